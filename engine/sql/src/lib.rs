//! The StarRocks SQL dialect of Cairn. [`parse_statements`] and [`parse_statement`] turn SQL
//! text into [`Statement`]s: StarRocks and MySQL administration statements (CREATE TABLE with
//! key model, partitioning, distribution and properties; INSERT with labels; SHOW, SET, USE,
//! users and grants; KILL; EXPLAIN) are recognized by their leading words and parsed by this
//! crate, reusing sqlparser's expression and query parsers for their pieces; everything else
//! (SELECT, WITH, VALUES, ...) is parsed by sqlparser's MySQL dialect and returned as
//! [`Statement::Query`] for DataFusion. Errors are [`ParseError`]s that say what was expected,
//! what was found and where, in MySQL's words.

pub mod ast;
mod column;
mod create_table;
mod ddl;
mod dml;
mod error;
mod parser;
mod routine_load;
mod session;
mod set;
mod show;
mod user;

pub use ast::*;
pub use error::ParseError;
pub use parser::{ParseOptions, parse_statement, parse_statements, parse_statements_with};
