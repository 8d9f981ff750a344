//! The embedded page and scripts, read as text: no HTML sink for data (`innerHTML` and its
//! kin), nothing loaded from another host (no CDN), every module import served by the
//! dashboard, and every asset answered at `/assets/{name}` with its content type.

mod support;

use tasks_dashboard::assets::{ASSETS, INDEX_HTML};

use support::{client, serve};

#[test]
fn no_script_writes_html_or_loads_from_elsewhere() {
    let sinks =
        ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"];
    for (name, _, text) in ASSETS {
        for sink in sinks {
            assert!(!text.contains(sink), "{name} uses {sink}");
        }
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{name} names another host"
        );
    }
    assert!(!INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"));
    assert!(!INDEX_HTML.contains("<script>"), "no inline script: the policy forbids it");
}

#[test]
fn every_module_import_is_served() {
    for (name, _, text) in ASSETS.iter().filter(|(name, _, _)| name.ends_with(".js")) {
        for line in text.lines().filter(|line| line.contains(" from \"")) {
            let target = line.split(" from \"").nth(1).and_then(|rest| rest.split('"').next());
            let target = target.unwrap_or_else(|| panic!("{name}: unreadable import {line:?}"));
            let known = target == "../live/tasks-live.js"
                || target
                    .strip_prefix("./")
                    .is_some_and(|file| ASSETS.iter().any(|(n, _, _)| *n == file));
            assert!(known, "{name} imports {target}, which the dashboard does not serve");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_asset_is_served_with_its_type() {
    let test = support::memory();
    let server = serve(test.store.clone(), support::fast()).await;
    for (name, content_type, text) in ASSETS {
        let response = client()
            .get(format!("{}/assets/{name}", server.base))
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], *content_type, "{name}");
        assert_eq!(response.text().await.expect("a body"), *text, "{name}");
    }
    let missing =
        client().get(format!("{}/assets/nope.js", server.base)).send().await.expect("a response");
    assert_eq!(missing.status().as_u16(), 404);
    server.stop().await.expect("a clean stop");
}
