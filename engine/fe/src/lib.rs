//! The frontend (FE): the MySQL protocol endpoint, the catalog with its durable journal,
//! load transactions, and query planning on DataFusion. [`Frontend`] is the entry point: it
//! replays the journal, then serves MySQL ([`Frontend::serve_mysql`]) and HTTP
//! ([`Frontend::serve_http`]). It reaches tablets only through a
//! [`cairn_be::BackendService`].

mod aggregation_probe;
mod bucket_aggregation;
pub mod catalog;
mod column_lineage;
pub mod convert;
pub mod ddl;
mod dense_groups;
mod dynamic_filters;
pub mod error;
pub mod frontend;
pub mod http;
pub mod information_schema;
pub mod journal;
pub mod load;
pub mod load_target;
mod low_cardinality;
pub mod membership;
pub mod metadata;
pub mod metrics;
pub mod partial_update;
pub mod partition;
pub mod process;
pub mod pruning;
mod redundant_filter;
pub mod routine_load;
pub mod router;
mod runtime_filter;
pub mod scan_filter;
mod selected_rows;
mod shared_results;
pub mod session;
pub mod show;
mod span_bitmap;
pub mod sql_mode;
pub mod table_provider;
pub mod transaction;
pub mod users;
pub mod variables;

pub use error::FeError;
pub use frontend::{Frontend, FrontendConfig};
