//! [`SmallDisk`]: a tmpfs of a few MiB, mounted for one scenario and unmounted when dropped, and
//! the ballast file that fills it. Mounting needs root (the gauntlet runs as root here and in
//! CI); without it the scenario says so instead of pretending.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Violation;

/// A mounted tmpfs.
pub(crate) struct SmallDisk {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB on a fresh temporary directory.
    pub(crate) fn mount(mib: u32) -> Result<Self, Violation> {
        let dir = tempfile::Builder::new().prefix("gauntlet-disk-").tempdir()?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|error| Violation(format!("cannot run mount: {error}")))?;
        if !output.status.success() {
            return Err(Violation(format!(
                "cannot mount a {mib} MiB tmpfs to fill (this scenario needs root): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(SmallDisk { dir, mounted: true })
    }

    /// The mount point.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with `name`, leaving `spare` bytes free (about: the file system rounds
    /// to pages): writes until the disk refuses, then gives `spare` bytes back.
    pub(crate) fn fill(&self, name: &str, spare: u64) -> Result<Ballast, Violation> {
        let path = self.path().join(name);
        let mut file = File::create(&path)?;
        let chunk = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(count) => written += count as u64,
                Err(error) if error.kind() == std::io::ErrorKind::StorageFull => break,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
        // A write may have been cut short before the refusal: the file holds `written` bytes.
        let keep = written.saturating_sub(spare);
        file.set_len(keep)?;
        file.sync_all()?;
        Ok(Ballast { path, bytes: keep })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            // Lazy: a file still open somewhere cannot keep the mount (and its memory) alive.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
            self.mounted = false;
        }
    }
}

/// The file that keeps the disk full.
pub(crate) struct Ballast {
    path: PathBuf,
    pub(crate) bytes: u64,
}

impl Ballast {
    /// Deletes the ballast: the space returns.
    pub(crate) fn remove(self) -> Result<(), Violation> {
        std::fs::remove_file(&self.path)?;
        Ok(())
    }
}
