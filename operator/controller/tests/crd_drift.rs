//! Fails when `crds/` differs from the Rust types: regenerate with
//! `cargo run -p cairn-operator -- crd > crds/starrocks.cairn.dev_starrocksclusters.yaml`
//! (and copy it to `charts/cairn-operator/crds/`).

use std::path::PathBuf;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn checked_in_crds_match_the_types() -> anyhow::Result<()> {
    let generated = cairn_operator::crd_yaml()?;
    for path in [
        "crds/starrocks.cairn.dev_starrocksclusters.yaml",
        "charts/cairn-operator/crds/starrocks.cairn.dev_starrocksclusters.yaml",
    ] {
        let checked_in = std::fs::read_to_string(repository_root().join(path))
            .map_err(|error| anyhow::anyhow!("failed to read {path}: {error}"))?;
        assert!(
            checked_in == generated,
            "{path} differs from the StarRocksCluster types; regenerate it with `cairn-operator crd > {path}`"
        );
    }
    Ok(())
}
