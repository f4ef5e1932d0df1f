//! AST rewrites that turn MySQL/StarRocks-only syntax into what DataFusion's SQL
//! planner accepts. They run on sqlparser's AST after parsing with the MySQL dialect
//! and before `SessionState::statement_to_plan`.
//!
//! Rewrites (bottom-up, so nested constructs are rewritten first):
//! - `a DIV b`, `a MOD b` / `a % b`, `a / b` → `mysql_int_div`, `mysql_mod`,
//!   `mysql_divide` (NULL on division by zero; `/` is a true division).
//! - `IF(c, a, b)` → `CASE WHEN c THEN a ELSE b END` (`mysql_truth(c)` when `c` is
//!   not visibly boolean).
//! - `DATABASE()`, `SCHEMA()`, `USER()`, `CURRENT_USER[()]`, `SESSION_USER()`,
//!   `SYSTEM_USER()`, `CONNECTION_ID()`, `VERSION()` → literals from
//!   [`SessionSettings`].
//! - `GROUP_CONCAT([DISTINCT] x[, y...] [ORDER BY ...] [SEPARATOR s])` →
//!   `string_agg(CAST(x AS VARCHAR), s [ORDER BY ...])`.
//! - `TIMESTAMPDIFF(MINUTE, ...)`, `TIMESTAMPADD(HOUR, ...)`, `time_slice(..., CEIL)`:
//!   bare unit words become string literals.
//! - `UTC_TIMESTAMP`, `UTC_DATE`, `UTC_TIME`, `LOCALTIME`, `LOCALTIMESTAMP` without
//!   parentheses become calls.
//! - `CAST`/`CONVERT` target types: SIGNED/UNSIGNED [INTEGER] → BIGINT, DATETIME and
//!   TIMESTAMP → `TIMESTAMP(6)` (StarRocks DATETIME), CHAR/VARCHAR(n)/STRING/TEXT →
//!   VARCHAR, `CONVERT(x, type)` → `CAST(x AS type)`, `CONVERT(x USING cs)` → `x`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, CastKind, DataType, DateTimeField, ExactNumberInfo, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, ObjectNamePart, Query, SelectItem, SetExpr, Statement, TimezoneInfo, UnaryOperator,
    Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::{Dialect, MySqlDialect, Precedence};

use crate::arithmetic::{DIVIDE, INTEGER_DIVIDE, MODULO};
use crate::control::TRUTH;
use crate::{MYSQL_VERSION, RewriteError, SessionSettings};

/// Rewrites `statement` in place. See the module documentation for the list.
pub fn rewrite_statement(
    statement: &mut Statement,
    settings: &SessionSettings,
) -> Result<(), RewriteError> {
    let mut rewriter = Rewriter { settings };
    match statement.visit(&mut rewriter) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

struct Rewriter<'a> {
    settings: &'a SessionSettings,
}

impl VisitorMut for Rewriter<'_> {
    type Break = RewriteError;

    /// Names rewritten select items after their original text, as MySQL names
    /// result columns (and so that `SELECT DATABASE(), SCHEMA()` does not produce
    /// two columns named after the same literal, which DataFusion rejects).
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        self.alias_rewritten_items(&mut query.body);
        ControlFlow::Continue(())
    }

    /// sqlparser's MySQL dialect parses everything after `DIV` as its right operand
    /// (`a DIV 60 * 60` becomes `a DIV (60 * 60)`); restore MySQL precedence first.
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Self::Break> {
        if contains_integer_divide(expr) {
            restore_precedence(expr);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Self::Break> {
        match self.rewrite(expr) {
            Ok(Some(replacement)) => {
                *expr = replacement;
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(error) => ControlFlow::Break(error),
        }
    }
}

impl Rewriter<'_> {
    fn alias_rewritten_items(&self, body: &mut SetExpr) {
        match body {
            SetExpr::Select(select) => {
                for item in select.projection.iter_mut() {
                    let SelectItem::UnnamedExpr(expr) = item else {
                        continue;
                    };
                    let mut rewritten = expr.clone();
                    let mut probe = Rewriter {
                        settings: self.settings,
                    };
                    // Errors surface when the real pass rewrites the item.
                    if rewritten.visit(&mut probe).is_continue() && rewritten != *expr {
                        let alias = Ident::with_quote('"', expr.to_string());
                        *item = SelectItem::ExprWithAlias {
                            expr: expr.clone(),
                            alias,
                        };
                    }
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.alias_rewritten_items(left);
                self.alias_rewritten_items(right);
            }
            _ => {}
        }
    }

    /// Returns the replacement for `expr`, or `None` to keep it (possibly after
    /// editing it in place).
    fn rewrite(&self, expr: &mut Expr) -> Result<Option<Expr>, RewriteError> {
        match expr {
            Expr::BinaryOp { left, op, right } => {
                let function = match op {
                    BinaryOperator::MyIntegerDivide => INTEGER_DIVIDE,
                    BinaryOperator::Modulo => MODULO,
                    BinaryOperator::Divide => DIVIDE,
                    _ => return Ok(None),
                };
                Ok(Some(call(function, vec![take(left), take(right)])))
            }
            Expr::Function(function) => self.rewrite_function(function),
            Expr::Identifier(ident) if ident.quote_style.is_none() => {
                let name = ident.value.to_ascii_lowercase();
                match name.as_str() {
                    "utc_timestamp" | "utc_date" | "utc_time" | "localtime" | "localtimestamp" => {
                        Ok(Some(call(&name, Vec::new())))
                    }
                    "current_user" => Ok(Some(self.user_literal())),
                    _ => Ok(None),
                }
            }
            Expr::Cast { data_type, .. } => {
                map_cast_type(data_type);
                Ok(None)
            }
            Expr::Convert {
                expr: inner,
                data_type,
                charset,
                ..
            } => match data_type.take() {
                Some(mut data_type) => {
                    map_cast_type(&mut data_type);
                    Ok(Some(Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(take(inner)),
                        data_type,
                        array: false,
                        format: None,
                    }))
                }
                // CONVERT(x USING utf8mb4): every string is UTF-8 already.
                None if charset.is_some() => Ok(Some(take(inner))),
                None => Err(RewriteError::Unsupported(
                    "CONVERT without a target type".into(),
                )),
            },
            // DataFusion's interval parser has no QUARTER: use three months.
            Expr::Interval(interval)
                if interval.leading_field == Some(DateTimeField::Quarter)
                    && interval.last_field.is_none() =>
            {
                if let Expr::Value(value) = interval.value.as_mut()
                    && let Value::Number(number, long) = &value.value
                    && let Ok(quarters) = number.parse::<i64>()
                {
                    value.value = Value::Number((quarters * 3).to_string(), *long);
                    interval.leading_field = Some(DateTimeField::Month);
                }
                Ok(None)
            }
            Expr::TypedString(typed) => {
                map_cast_type(&mut typed.data_type);
                Ok(None)
            }
            // An integer literal beyond BIGINT UNSIGNED is a DECIMAL in MySQL (and a LARGEINT
            // value in StarRocks); DataFusion would read it as an inexact DOUBLE.
            Expr::Value(value)
                if matches!(&value.value, Value::Number(number, false)
                    if number.len() <= 38
                        && number.bytes().all(|byte| byte.is_ascii_digit())
                        && number.parse::<u64>().is_err()) =>
            {
                let Value::Number(number, _) = &value.value else {
                    return Ok(None);
                };
                Ok(Some(Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(Expr::value(Value::SingleQuotedString(number.clone()))),
                    data_type: DataType::Decimal(ExactNumberInfo::PrecisionAndScale(38, 0)),
                    array: false,
                    format: None,
                }))
            }
            _ => Ok(None),
        }
    }

    fn rewrite_function(&self, function: &mut Function) -> Result<Option<Expr>, RewriteError> {
        let Some(name) = simple_name(&function.name) else {
            return Ok(None);
        };
        match name.as_str() {
            "if" => {
                let [condition, when_true, when_false] = take_arguments::<3>(function, "IF")?;
                let condition = if is_boolean_syntax(&condition) {
                    condition
                } else {
                    call(TRUTH, vec![condition])
                };
                Ok(Some(Expr::Case {
                    case_token: AttachedToken::empty(),
                    end_token: AttachedToken::empty(),
                    operand: None,
                    conditions: vec![CaseWhen {
                        condition,
                        result: when_true,
                    }],
                    else_result: Some(Box::new(when_false)),
                }))
            }
            "database" | "schema" => {
                take_arguments::<0>(function, &name)?;
                Ok(Some(match &self.settings.current_database {
                    Some(database) => string_literal(database),
                    None => Expr::value(Value::Null),
                }))
            }
            "user" | "current_user" | "session_user" | "system_user" => {
                Ok(Some(self.user_literal()))
            }
            "connection_id" => {
                take_arguments::<0>(function, "CONNECTION_ID")?;
                Ok(Some(Expr::value(Value::Number(
                    self.settings.connection_id.to_string(),
                    false,
                ))))
            }
            "version" => {
                take_arguments::<0>(function, "VERSION")?;
                Ok(Some(string_literal(MYSQL_VERSION)))
            }
            "group_concat" => group_concat(function).map(Some),
            "timestampdiff" | "timestampadd" => {
                unit_word_to_string(function, 0);
                Ok(None)
            }
            "time_slice" => {
                unit_word_to_string(function, 2);
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn user_literal(&self) -> Expr {
        string_literal(&format!("{}@%", self.settings.current_user))
    }
}

/// The lower-case name of an unqualified function.
fn simple_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(ident.value.to_ascii_lowercase()),
        _ => None,
    }
}

fn take(expr: &mut Expr) -> Expr {
    std::mem::replace(expr, Expr::value(Value::Null))
}

pub(crate) fn call(name: &str, arguments: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: arguments
                .into_iter()
                .map(|argument| FunctionArg::Unnamed(FunctionArgExpr::Expr(argument)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

fn string_literal(text: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(text.to_string()))
}

/// The `N` plain positional arguments of `function`, or MySQL's arity error.
fn take_arguments<const N: usize>(
    function: &mut Function,
    display_name: &str,
) -> Result<[Expr; N], RewriteError> {
    let arity_error = || RewriteError::WrongArgumentCount(display_name.to_uppercase());
    let arguments: Vec<Expr> = match &mut function.args {
        FunctionArguments::None => Vec::new(),
        FunctionArguments::List(list) if list.clauses.is_empty() => list
            .args
            .iter_mut()
            .map(|argument| match argument {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Ok(take(expr)),
                _ => Err(arity_error()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(arity_error()),
    };
    arguments.try_into().map_err(|_| arity_error())
}

/// Turns a bare word argument (`MINUTE`, `CEIL`) into a string literal so it plans.
fn unit_word_to_string(function: &mut Function, index: usize) {
    let FunctionArguments::List(list) = &mut function.args else {
        return;
    };
    if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(expr))) = list.args.get_mut(index)
        && let Expr::Identifier(ident) = expr
        && ident.quote_style.is_none()
    {
        *expr = string_literal(&ident.value.to_ascii_lowercase());
    }
}

fn group_concat(function: &mut Function) -> Result<Expr, RewriteError> {
    let FunctionArguments::List(list) = &mut function.args else {
        return Err(RewriteError::WrongArgumentCount("GROUP_CONCAT".into()));
    };
    let mut values = Vec::with_capacity(list.args.len());
    for argument in list.args.iter_mut() {
        match argument {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => values.push(take(expr)),
            _ => return Err(RewriteError::Unsupported("GROUP_CONCAT(*)".into())),
        }
    }
    let value = match values.len() {
        0 => return Err(RewriteError::WrongArgumentCount("GROUP_CONCAT".into())),
        // string_agg wants strings; MySQL converts any type.
        1 => Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(values.remove(0)),
            data_type: DataType::Varchar(None),
            array: false,
            format: None,
        },
        _ => call("concat", values),
    };
    let mut separator = string_literal(",");
    let mut clauses = Vec::new();
    for clause in list.clauses.drain(..) {
        match clause {
            FunctionArgumentClause::Separator(value) => separator = Expr::value(value),
            FunctionArgumentClause::OrderBy(order_by) => {
                clauses.push(FunctionArgumentClause::OrderBy(order_by));
            }
            other => {
                return Err(RewriteError::Unsupported(format!(
                    "GROUP_CONCAT(... {other})"
                )));
            }
        }
    }
    Ok(Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new("string_agg")]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: list.duplicate_treatment.take(),
            args: vec![
                FunctionArg::Unnamed(FunctionArgExpr::Expr(value)),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(separator)),
            ],
            clauses,
        }),
        filter: function.filter.take(),
        null_treatment: None,
        over: function.over.take(),
        within_group: Vec::new(),
    }))
}

/// Whether `expr` is boolean by its syntax alone, so IF can use it as a CASE
/// condition directly.
fn is_boolean_syntax(expr: &Expr) -> bool {
    match expr {
        Expr::BinaryOp { op, .. } => matches!(
            op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
                | BinaryOperator::And
                | BinaryOperator::Or
                | BinaryOperator::Xor
        ),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => true,
        Expr::Nested(inner) => is_boolean_syntax(inner),
        Expr::Value(value) => matches!(value.value, Value::Boolean(_)),
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotUnknown(_)
        | Expr::IsDistinctFrom(_, _)
        | Expr::IsNotDistinctFrom(_, _)
        | Expr::InList { .. }
        | Expr::InSubquery { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::SimilarTo { .. }
        | Expr::RLike { .. }
        | Expr::Exists { .. } => true,
        _ => false,
    }
}

/// MySQL cast target types → types DataFusion's planner knows.
fn map_cast_type(data_type: &mut DataType) {
    let replacement = match data_type {
        DataType::Signed
        | DataType::SignedInteger
        | DataType::Unsigned
        | DataType::UnsignedInteger => DataType::BigInt(None),
        DataType::Datetime(_) | DataType::Timestamp(_, TimezoneInfo::None) => {
            DataType::Timestamp(Some(6), TimezoneInfo::None)
        }
        DataType::Char(_)
        | DataType::Varchar(_)
        | DataType::Nvarchar(_)
        | DataType::Character(_)
        | DataType::CharacterVarying(_)
        | DataType::CharVarying(_)
        | DataType::String(_)
        | DataType::TinyText
        | DataType::MediumText
        | DataType::LongText
        | DataType::JSON => DataType::Varchar(None),
        DataType::Dec(info) => DataType::Decimal(*info),
        DataType::MediumInt(_) => DataType::Int(None),
        DataType::Binary(_) | DataType::Varbinary(_) => DataType::Bytea,
        _ => return,
    };
    *data_type = replacement;
}

// ---------------------------------------------------------------------------
// DIV precedence repair

fn contains_integer_divide(expr: &Expr) -> bool {
    match expr {
        Expr::BinaryOp { left, op, right } => {
            *op == BinaryOperator::MyIntegerDivide
                || contains_integer_divide(left)
                || contains_integer_divide(right)
        }
        Expr::Nested(inner)
        | Expr::IsNull(inner)
        | Expr::IsNotNull(inner)
        | Expr::IsTrue(inner)
        | Expr::IsFalse(inner)
        | Expr::UnaryOp { expr: inner, .. } => contains_integer_divide(inner),
        Expr::Between { expr: inner, .. }
        | Expr::InList { expr: inner, .. }
        | Expr::Like { expr: inner, .. }
        | Expr::ILike { expr: inner, .. } => contains_integer_divide(inner),
        _ => false,
    }
}

/// sqlparser's precedence of a binary operator, or `None` for operators this repair
/// leaves alone.
fn binary_precedence(op: &BinaryOperator) -> Option<u8> {
    let precedence = match op {
        BinaryOperator::Multiply
        | BinaryOperator::Divide
        | BinaryOperator::Modulo
        | BinaryOperator::MyIntegerDivide => Precedence::MulDivModOp,
        BinaryOperator::Plus | BinaryOperator::Minus => Precedence::PlusMinus,
        BinaryOperator::BitwiseXor => Precedence::Caret,
        BinaryOperator::BitwiseAnd => Precedence::Ampersand,
        BinaryOperator::BitwiseOr => Precedence::Pipe,
        BinaryOperator::Eq
        | BinaryOperator::NotEq
        | BinaryOperator::Lt
        | BinaryOperator::LtEq
        | BinaryOperator::Gt
        | BinaryOperator::GtEq
        | BinaryOperator::Spaceship => Precedence::Eq,
        BinaryOperator::And => Precedence::And,
        BinaryOperator::Or => Precedence::Or,
        BinaryOperator::Xor => Precedence::Xor,
        _ => return None,
    };
    Some(MySqlDialect {}.prec_value(precedence))
}

/// The precedence of a postfix predicate whose left operand is `expr`.
fn postfix_precedence(expr: &Expr) -> Option<u8> {
    let precedence = match expr {
        Expr::IsNull(_) | Expr::IsNotNull(_) | Expr::IsTrue(_) | Expr::IsFalse(_) => Precedence::Is,
        Expr::Between { .. } | Expr::InList { .. } => Precedence::Between,
        Expr::Like { .. } | Expr::ILike { .. } => Precedence::Like,
        _ => return None,
    };
    Some(MySqlDialect {}.prec_value(precedence))
}

/// The left operand of a postfix predicate.
fn postfix_operand(expr: &mut Expr) -> Option<&mut Box<Expr>> {
    match expr {
        Expr::IsNull(inner)
        | Expr::IsNotNull(inner)
        | Expr::IsTrue(inner)
        | Expr::IsFalse(inner) => Some(inner),
        Expr::Between { expr: inner, .. }
        | Expr::InList { expr: inner, .. }
        | Expr::Like { expr: inner, .. }
        | Expr::ILike { expr: inner, .. } => Some(inner),
        _ => None,
    }
}

/// Restores left-associative precedence in a tree where an operator's right operand
/// binds more loosely than the operator itself (which a correct parse never
/// produces without parentheses): `a OP (b OP2 c)` with OP2 not tighter than OP
/// becomes `(a OP b) OP2 c`, and `a OP (b IS NULL)` becomes `(a OP b) IS NULL`.
/// Parenthesised operands (`Expr::Nested`) are kept as written.
fn restore_precedence(expr: &mut Expr) {
    match &mut *expr {
        Expr::BinaryOp { left, right, .. } => {
            restore_precedence(left);
            restore_precedence(right);
        }
        Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => restore_precedence(inner),
        other => {
            if let Some(operand) = postfix_operand(other) {
                restore_precedence(operand);
            }
        }
    }
    loop {
        let Expr::BinaryOp { op, right, .. } = &*expr else {
            return;
        };
        let Some(own) = binary_precedence(op) else {
            return;
        };
        let right_precedence = match right.as_ref() {
            Expr::BinaryOp { op: right_op, .. } => binary_precedence(right_op),
            other => postfix_precedence(other),
        };
        if !right_precedence.is_some_and(|right_precedence| right_precedence <= own) {
            return;
        }
        rotate_left(expr);
    }
}

/// `a OP (b OP2 c)` → `(a OP b) OP2 c`; `a OP (b IS NULL)` → `(a OP b) IS NULL`.
fn rotate_left(expr: &mut Expr) {
    let Expr::BinaryOp { left, op, right } = take(expr) else {
        return;
    };
    let mut right = *right;
    match &mut right {
        Expr::BinaryOp {
            left: right_left, ..
        } => {
            let mut new_left = Expr::BinaryOp {
                left,
                op,
                right: Box::new(take(right_left)),
            };
            restore_precedence(&mut new_left);
            **right_left = new_left;
        }
        other => {
            if let Some(operand) = postfix_operand(other) {
                let mut new_operand = Expr::BinaryOp {
                    left,
                    op,
                    right: Box::new(take(operand)),
                };
                restore_precedence(&mut new_operand);
                **operand = new_operand;
            }
        }
    }
    *expr = right;
}
