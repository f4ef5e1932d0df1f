//! Cairn's own rules for DataFusion's logical optimizer: rewrites that keep a query's
//! result exactly and make the plan cheaper, where DataFusion's rules stop short. Each
//! rule says in its module what profile or plan it came from.
//!
//! [`register_rules`] adds them all to a `SessionContext`; the FE's query sessions and the
//! load executor both call it, so a statement is optimized the same way wherever it runs.

mod decimal_arithmetic;
mod decimal_literal;
mod semi_join;

use std::sync::Arc;

use datafusion::prelude::SessionContext;

/// Adds every Cairn optimizer rule to `context`, after DataFusion's own.
pub fn register_rules(context: &SessionContext) {
    context.add_optimizer_rule(Arc::new(semi_join::SemiJoinBelowJoin));
    context.add_optimizer_rule(Arc::new(decimal_literal::DecimalLiteralScale));
    // After the literal rule, so `1 - price` has equal scales by then.
    context.add_optimizer_rule(Arc::new(decimal_arithmetic::DecimalArithmetic));
}
