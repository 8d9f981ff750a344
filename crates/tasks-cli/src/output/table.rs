//! Aligned text columns for people (`tasks ls`): widths by the longest cell, counted in
//! characters, the last column left ragged.

/// Rows of cells under a header.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Table { header: header.iter().map(|cell| (*cell).to_owned()).collect(), rows: Vec::new() }
    }

    pub(crate) fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as lines.
    pub(crate) fn render(&self) -> Vec<String> {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|cell| cell.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| {
                let cells: Vec<String> = row
                    .iter()
                    .enumerate()
                    .map(|(index, cell)| {
                        if index + 1 == columns {
                            cell.clone()
                        } else {
                            let pad = widths[index].saturating_sub(cell.chars().count());
                            format!("{cell}{}", " ".repeat(pad))
                        }
                    })
                    .collect();
                cells.join("  ").trim_end().to_owned()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_characters() {
        let mut table = Table::new(&["ID", "STATE", "NOTE"]);
        table.push(vec!["a".into(), "✓ done".into(), "x".into()]);
        table.push(vec!["bbb".into(), "· q".into(), String::new()]);
        assert_eq!(table.render(), vec!["ID   STATE   NOTE", "a    ✓ done  x", "bbb  · q"]);
    }
}
