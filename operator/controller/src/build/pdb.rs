//! PodDisruptionBudgets: an FE quorum survives one voluntary disruption at a time (none for a
//! single FE, which cannot stay available anyway), and BE loses at most one pod at a time so
//! replicated tablets keep a live copy.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{component_labels, object_meta, selector_labels};
use crate::validate::{Role, ValidatedCluster};

fn build_pdb(cluster: &ValidatedCluster, role: Role) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: object_meta(cluster, cluster.component_name(role), component_labels(cluster, role)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(cluster, role)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

pub fn build_fe_pdb(cluster: &ValidatedCluster) -> PodDisruptionBudget {
    build_pdb(cluster, Role::Fe)
}

pub fn build_be_pdb(cluster: &ValidatedCluster) -> PodDisruptionBudget {
    build_pdb(cluster, Role::Be)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn pdb_snapshot() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        insta::assert_yaml_snapshot!("be_pdb", build_be_pdb(&cluster));
        Ok(())
    }
}
