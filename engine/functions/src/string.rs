//! MySQL string functions DataFusion lacks or names differently.
//!
//! DataFusion already has CONCAT_WS, INSTR (alias of strpos), SUBSTRING_INDEX,
//! CHAR_LENGTH, LEFT, RIGHT, LPAD, RPAD, REPEAT, REVERSE and FIND_IN_SET. Missing
//! names that only differ in spelling are added as aliases of DataFusion's own
//! functions; LOCATE has its arguments the other way round from strpos and an
//! optional start position, so it is a function of its own.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ScalarUDF, Volatility};
use datafusion::prelude::SessionContext;

use crate::temporal::{coerce_string, int64_array, string_values};
use crate::udf::{Invocation, MysqlFunction, check_arity};

pub(crate) fn functions() -> Vec<ScalarUDF> {
    vec![
        MysqlFunction::new(
            "locate",
            false,
            Volatility::Immutable,
            coerce_locate,
            |_| Ok(DataType::Int64),
            locate,
        )
        .into_udf(),
    ]
}

/// MySQL spellings of DataFusion functions: (DataFusion name, MySQL aliases).
/// `length` is bytes in MySQL and StarRocks, so it becomes an alias of
/// `octet_length` instead of DataFusion's character count.
const ALIASES: [(&str, &[&str]); 4] = [
    ("lower", &["lcase"]),
    ("upper", &["ucase"]),
    ("octet_length", &["length"]),
    ("substr", &["substring", "mid"]),
];

/// Re-registers DataFusion's own functions under their MySQL names as well.
pub(crate) fn register_aliases(context: &SessionContext) {
    for (name, aliases) in ALIASES {
        let Some(function) = context.state().scalar_functions().get(name).cloned() else {
            continue;
        };
        // `with_aliases` keeps the function's existing aliases.
        context.register_udf(
            function
                .as_ref()
                .clone()
                .with_aliases(aliases.iter().copied()),
        );
    }
}

fn coerce_locate(function: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, types, &[2, 3])?;
    let mut coerced = vec![
        coerce_string(function, &types[0])?,
        coerce_string(function, &types[1])?,
    ];
    if types.len() == 3 {
        coerced.push(DataType::Int64);
    }
    Ok(coerced)
}

/// LOCATE(substr, str[, pos]): the 1-based character position of `substr` in `str`
/// at or after `pos`, 0 when absent.
fn locate(invocation: &Invocation<'_>) -> Result<ArrayRef> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;

    let needles = string_values(&invocation.arguments[0])?;
    let haystacks = string_values(&invocation.arguments[1])?;
    let starts: Vec<Option<i64>> = match invocation.arguments.get(2) {
        Some(array) if array.data_type() == &DataType::Int64 => {
            array.as_primitive::<Int64Type>().iter().collect()
        }
        Some(array) => vec![None; array.len()],
        None => vec![Some(1); invocation.rows],
    };
    Ok(int64_array(
        needles
            .into_iter()
            .zip(haystacks)
            .zip(starts)
            .map(|((needle, haystack), start)| {
                let (needle, haystack, start) = (needle?, haystack?, start?);
                if start < 1 {
                    return Some(0);
                }
                // Positions are in characters, not bytes.
                let skip = usize::try_from(start - 1).ok()?;
                let Some((byte_offset, _)) = haystack.char_indices().nth(skip) else {
                    return Some(if needle.is_empty() && skip == haystack.chars().count() {
                        start
                    } else {
                        0
                    });
                };
                Some(match haystack[byte_offset..].find(needle) {
                    Some(found) => (haystack[..byte_offset + found].chars().count() + 1) as i64,
                    None => 0,
                })
            }),
    ))
}
