//! One generic [`ScalarUDFImpl`] that the MySQL functions are built from, so each
//! function is a name, a coercion rule, a return type rule and a kernel over arrays.

use std::hash::{Hash, Hasher};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::zone::SessionZone;

/// What a kernel sees: arguments already cast by the coercion rule and expanded to
/// arrays of `rows` rows (one when every argument is a scalar), and the session
/// time zone.
pub(crate) struct Invocation<'a> {
    pub(crate) arguments: &'a [ArrayRef],
    pub(crate) rows: usize,
    pub(crate) zone: SessionZone,
}

pub(crate) type Kernel = fn(&Invocation<'_>) -> Result<ArrayRef>;
pub(crate) type Coercion = fn(&str, &[DataType]) -> Result<Vec<DataType>>;
pub(crate) type ReturnType = fn(&[DataType]) -> Result<DataType>;

/// A MySQL scalar function. Equality and hashing use the name only, which is what
/// DataFusion needs to deduplicate expressions.
#[derive(Debug)]
pub(crate) struct MysqlFunction {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    coercion: Coercion,
    return_type: ReturnType,
    kernel: Kernel,
}

impl MysqlFunction {
    /// `accepts_no_arguments` adds the nullary form; the coercion rule checks every
    /// other argument count (see [`check_arity`]).
    pub(crate) fn new(
        name: &'static str,
        accepts_no_arguments: bool,
        volatility: Volatility,
        coercion: Coercion,
        return_type: ReturnType,
        kernel: Kernel,
    ) -> Self {
        let mut signatures = vec![TypeSignature::UserDefined];
        if accepts_no_arguments {
            signatures.push(TypeSignature::Nullary);
        }
        Self {
            name,
            aliases: Vec::new(),
            signature: Signature::one_of(signatures, volatility),
            coercion,
            return_type,
            kernel,
        }
    }

    pub(crate) fn with_aliases(mut self, aliases: &[&str]) -> Self {
        self.aliases = aliases.iter().map(|alias| (*alias).to_string()).collect();
        self
    }

    pub(crate) fn into_udf(self) -> ScalarUDF {
        ScalarUDF::new_from_impl(self)
    }
}

impl PartialEq for MysqlFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for MysqlFunction {}

impl Hash for MysqlFunction {
    fn hash<State: Hasher>(&self, state: &mut State) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for MysqlFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        (self.coercion)(self.name, arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        (self.return_type)(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = !args.args.is_empty()
            && args
                .args
                .iter()
                .all(|argument| matches!(argument, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arguments = args
            .args
            .iter()
            .map(|argument| argument.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let zone = SessionZone::from_config(&args.config_options)?;
        let invocation = Invocation {
            arguments: &arguments,
            rows,
            zone,
        };
        let result = (self.kernel)(&invocation)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// Checks the argument count inside a coercion rule, with MySQL's wording.
pub(crate) fn check_arity(function: &str, arg_types: &[DataType], allowed: &[usize]) -> Result<()> {
    if allowed.contains(&arg_types.len()) {
        Ok(())
    } else {
        datafusion::common::plan_err!(
            "Incorrect parameter count in the call to native function '{function}'"
        )
    }
}
