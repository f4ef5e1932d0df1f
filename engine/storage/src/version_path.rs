//! Which rowsets make up a tablet at a version.
//!
//! Every rowset covers a contiguous version range `[start, end]`: a load publishes `[v, v]`,
//! a compaction of `[a, b]` and `[b+1, c]` writes `[a, c]`, and a DELETE or INSERT OVERWRITE
//! at version `v` writes a replacement `[1, v]` standing for everything before it. Rowsets that
//! were merged or replaced stay as stale rowsets for a while, so a reader at an older version
//! still finds its own rowsets.

use crate::rowset::RowsetMeta;
use cairn_common::ids::Version;

/// The rowsets to read for `version`, in version order. Picks, among the rowsets ending at or
/// before `version`, the widest one at each start, and skips any rowset a chosen one covers.
pub fn select_rowsets<'a>(
    rowsets: impl IntoIterator<Item = &'a RowsetMeta>,
    version: Version,
) -> Vec<&'a RowsetMeta> {
    let mut candidates: Vec<&RowsetMeta> = rowsets
        .into_iter()
        .filter(|rowset| rowset.end_version <= version)
        .collect();
    candidates.sort_by(|left, right| {
        left.start_version
            .cmp(&right.start_version)
            .then(right.end_version.cmp(&left.end_version))
    });
    let mut chosen = Vec::new();
    let mut covered_until: Version = 0;
    for rowset in candidates {
        if rowset.start_version > covered_until {
            covered_until = rowset.end_version;
            chosen.push(rowset);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rowset(start: Version, end: Version) -> RowsetMeta {
        RowsetMeta {
            rowset_id: format!("{start}-{end}"),
            start_version: start,
            end_version: end,
            num_rows: 1,
            data_size: 1,
            file_name: Some(format!("{start}-{end}.parquet")),
        }
    }

    fn ranges(chosen: Vec<&RowsetMeta>) -> Vec<(Version, Version)> {
        chosen
            .iter()
            .map(|rowset| (rowset.start_version, rowset.end_version))
            .collect()
    }

    #[test]
    fn loads_are_read_up_to_the_version() {
        let all = [rowset(2, 2), rowset(3, 3), rowset(5, 5)];
        assert_eq!(ranges(select_rowsets(&all, 4)), vec![(2, 2), (3, 3)]);
        assert_eq!(ranges(select_rowsets(&all, 5)), vec![(2, 2), (3, 3), (5, 5)]);
        assert_eq!(ranges(select_rowsets(&all, 1)), vec![]);
    }

    #[test]
    fn compacted_rowset_replaces_its_inputs_only_for_new_readers() {
        let all = [rowset(2, 2), rowset(3, 3), rowset(5, 5), rowset(2, 5), rowset(6, 6)];
        assert_eq!(ranges(select_rowsets(&all, 6)), vec![(2, 5), (6, 6)]);
        assert_eq!(ranges(select_rowsets(&all, 4)), vec![(2, 2), (3, 3)]);
    }

    #[test]
    fn replacement_hides_everything_before_it() {
        let all = [rowset(2, 2), rowset(3, 3), rowset(1, 4), rowset(5, 5)];
        assert_eq!(ranges(select_rowsets(&all, 5)), vec![(1, 4), (5, 5)]);
        assert_eq!(ranges(select_rowsets(&all, 3)), vec![(2, 2), (3, 3)]);
    }
}
