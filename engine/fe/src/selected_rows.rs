//! Tests run only at the rows a selection keeps, a 64-row word at a time.
//!
//! Why: once a scan filter's first conjuncts have dropped most of a batch, the next conjunct
//! ran on its column narrowed to the survivors (a gather) and its outcome was scattered back
//! bit by bit. On TPC-H q6 (three DECIMAL conjuncts after a one-year date range) that gather
//! and scatter were 55% of the query's CPU, the comparisons themselves 21%. A comparison with a
//! literal needs neither: it reads the column where the selection's bits are set.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, RecordBatch};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type, Schema, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};

/// The rows of `selection` for which `holds(row)` is true; every other row is false. `holds`
/// sees the selected rows in ascending order, and is never called for the others.
pub(crate) fn test_selected(selection: &BooleanBuffer, mut holds: impl FnMut(usize) -> bool) -> BooleanBuffer {
    let mut words = Vec::with_capacity(selection.len().div_ceil(64));
    for (index, word) in selection.bit_chunks().iter_padded().enumerate() {
        let base = index * 64;
        let mut remaining = word;
        let mut kept = 0u64;
        while remaining != 0 {
            let bit = remaining.trailing_zeros();
            // No branch on the outcome: at the selectivities that reach here it is a coin toss.
            kept |= u64::from(holds(base + bit as usize)) << bit;
            remaining &= remaining - 1;
        }
        words.push(kept);
    }
    BooleanBuffer::new(Buffer::from_vec(words), 0, selection.len())
}

/// A conjunct `column <op> literal` on an integer, date, timestamp or decimal column, the
/// literal of the column's own type (DataFusion's coercion casts literals to the column).
/// Floats are left out: their ordering of NaN and -0.0 is arrow's to define.
#[derive(Debug)]
pub(crate) struct Comparison {
    column: usize,
    op: Operator,
    literal: ScalarValue,
}

impl Comparison {
    /// The comparison `expression` is, against the scan's `schema`; `None` for any other shape.
    pub(crate) fn of(expression: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Comparison> {
        let binary = expression.downcast_ref::<BinaryExpr>()?;
        let (column, op, literal) = match (binary.left().downcast_ref::<Column>(), binary.right().downcast_ref::<Literal>()) {
            (Some(column), Some(literal)) => (column, *binary.op(), literal),
            _ => (binary.right().downcast_ref::<Column>()?, binary.op().swap()?, binary.left().downcast_ref::<Literal>()?),
        };
        let comparable = matches!(op, Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq);
        let data_type = schema.fields().get(column.index())?.data_type();
        let literal = literal.value();
        (comparable && !literal.is_null() && &literal.data_type() == data_type && is_ordered_natively(data_type))
            .then(|| Comparison { column: column.index(), op, literal: literal.clone() })
    }

    /// The rows of `selection` where the comparison holds (NULL does not), or `None` if the
    /// batch's column is not of the planned type (say, dictionary-encoded).
    pub(crate) fn within(&self, batch: &RecordBatch, selection: &BooleanBuffer) -> Option<BooleanBuffer> {
        let array = batch.columns().get(self.column)?;
        match array.data_type() {
            DataType::Int8 => self.typed::<Int8Type>(array, selection),
            DataType::Int16 => self.typed::<Int16Type>(array, selection),
            DataType::Int32 => self.typed::<Int32Type>(array, selection),
            DataType::Int64 => self.typed::<Int64Type>(array, selection),
            DataType::UInt8 => self.typed::<UInt8Type>(array, selection),
            DataType::UInt16 => self.typed::<UInt16Type>(array, selection),
            DataType::UInt32 => self.typed::<UInt32Type>(array, selection),
            DataType::UInt64 => self.typed::<UInt64Type>(array, selection),
            DataType::Date32 => self.typed::<Date32Type>(array, selection),
            DataType::Date64 => self.typed::<Date64Type>(array, selection),
            DataType::Decimal128(..) => self.typed::<Decimal128Type>(array, selection),
            DataType::Timestamp(TimeUnit::Second, _) => self.typed::<TimestampSecondType>(array, selection),
            DataType::Timestamp(TimeUnit::Millisecond, _) => self.typed::<TimestampMillisecondType>(array, selection),
            DataType::Timestamp(TimeUnit::Microsecond, _) => self.typed::<TimestampMicrosecondType>(array, selection),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => self.typed::<TimestampNanosecondType>(array, selection),
            _ => None,
        }
    }

    fn typed<T: ArrowPrimitiveType>(&self, array: &ArrayRef, selection: &BooleanBuffer) -> Option<BooleanBuffer>
    where
        T::Native: PartialOrd,
    {
        // Equal types were checked when planning; a batch of another type (the scan's
        // adapted types differ) falls back to the general path.
        if &self.literal.data_type() != array.data_type() {
            return None;
        }
        let literal = self.literal.to_array().ok()?;
        let literal = *literal.as_primitive_opt::<T>()?.values().first()?;
        let column = array.as_primitive_opt::<T>()?;
        let values = column.values();
        let valid;
        // A NULL row compares as NULL, which WHERE drops: only valid rows are tested.
        let selection = match column.nulls().filter(|nulls| nulls.null_count() > 0) {
            Some(nulls) => {
                valid = selection & nulls.inner();
                &valid
            }
            None => selection,
        };
        let value = |row: usize| values.get(row).copied();
        Some(match self.op {
            Operator::Eq => test_selected(selection, |row| value(row).is_some_and(|value| value == literal)),
            Operator::NotEq => test_selected(selection, |row| value(row).is_some_and(|value| value != literal)),
            Operator::Lt => test_selected(selection, |row| value(row).is_some_and(|value| value < literal)),
            Operator::LtEq => test_selected(selection, |row| value(row).is_some_and(|value| value <= literal)),
            Operator::Gt => test_selected(selection, |row| value(row).is_some_and(|value| value > literal)),
            Operator::GtEq => test_selected(selection, |row| value(row).is_some_and(|value| value >= literal)),
            _ => return None,
        })
    }
}

/// Whether values of `data_type` order as their native integers do.
fn is_ordered_natively(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Date32
            | DataType::Date64
            | DataType::Decimal128(..)
            | DataType::Timestamp(..)
    )
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{BooleanArray, Decimal128Array, Int32Array};
    use datafusion::arrow::compute::kernels::cmp;
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::{binary, col, lit};

    use super::*;

    #[test]
    fn test_selected_visits_only_selected_rows_across_words() {
        let selection = BooleanBuffer::from_iter((0..200).map(|row| row % 3 == 0));
        let mut visited = Vec::new();
        let kept = test_selected(&selection, |row| {
            visited.push(row);
            row % 2 == 0
        });
        assert_eq!(visited, (0..200).filter(|row| row % 3 == 0).collect::<Vec<_>>());
        let expected: Vec<bool> = (0..200).map(|row| row % 6 == 0).collect();
        assert_eq!(kept.iter().collect::<Vec<_>>(), expected);
        // A sliced selection starts at its own first row.
        let sliced = selection.slice(1, 130);
        let kept = test_selected(&sliced, |row| row < 100);
        assert_eq!(kept.len(), 130);
        assert_eq!(kept.iter().collect::<Vec<_>>(), (1..131).map(|row| row % 3 == 0 && row < 101).collect::<Vec<_>>());
    }

    /// Each operator, either side, with NULLs: the outcome at the selected rows is arrow's
    /// comparison kernel's (NULL as false), and false elsewhere.
    #[test]
    fn comparisons_agree_with_arrow_at_selected_rows() {
        let prices = Decimal128Array::from_iter((0..300).map(|row| (row % 7 != 0).then_some(i128::from(row) * 37 % 1000)))
            .with_precision_and_scale(15, 2)
            .expect("valid decimal type");
        let quantities = Int32Array::from_iter((0..300).map(|row| (row % 11 != 0).then_some(row % 50)));
        let schema = Arc::new(Schema::new(vec![
            Field::new("price", prices.data_type().clone(), true),
            Field::new("quantity", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(prices), Arc::new(quantities)]).expect("batch");
        let selection = BooleanBuffer::from_iter((0..300).map(|row| row % 4 != 1));
        let literals = [
            ("price", ScalarValue::Decimal128(Some(500), 15, 2)),
            ("quantity", ScalarValue::Int32(Some(24))),
        ];
        let operators =
            [Operator::Eq, Operator::NotEq, Operator::Lt, Operator::LtEq, Operator::Gt, Operator::GtEq];
        for (name, literal) in literals {
            for op in operators {
                for literal_first in [false, true] {
                    let column = col(name, &schema).expect("column");
                    let (left, right) = if literal_first { (lit(literal.clone()), column) } else { (column, lit(literal.clone())) };
                    let expression = binary(left, op, right, &schema).expect("comparison");
                    let comparison = Comparison::of(&expression, &schema).expect("a comparison with a literal");
                    let kept = comparison.within(&batch, &selection).expect("typed column");
                    let outcome = expression.evaluate(&batch).and_then(|value| value.into_array(300)).expect("evaluates");
                    let outcome: &BooleanArray = outcome.as_boolean();
                    for row in 0..300 {
                        let expected = selection.value(row) && outcome.is_valid(row) && outcome.value(row);
                        assert_eq!(kept.value(row), expected, "{name} {op} {literal} (literal first: {literal_first}) at row {row}");
                    }
                }
            }
        }
        // The kernel agrees on the unselected-free case too.
        let all = BooleanBuffer::new_set(300);
        let expression = binary(col("quantity", &schema).expect("column"), Operator::Lt, lit(24i32), &schema).expect("comparison");
        let kept = Comparison::of(&expression, &schema).expect("comparison").within(&batch, &all).expect("typed");
        let expected = cmp::lt(batch.column(1), &Int32Array::new_scalar(24)).expect("kernel");
        assert_eq!(BooleanArray::new(kept, None), datafusion::arrow::compute::prep_null_mask_filter(&expected));
    }

    #[test]
    fn other_shapes_are_not_comparisons() {
        let schema = Schema::new(vec![Field::new("ratio", DataType::Float64, false), Field::new("quantity", DataType::Int32, false)]);
        let float = binary(col("ratio", &schema).expect("column"), Operator::Lt, lit(1.5f64), &schema).expect("comparison");
        assert!(Comparison::of(&float, &schema).is_none(), "floats keep arrow's ordering");
        let two_columns =
            binary(col("quantity", &schema).expect("column"), Operator::Lt, col("quantity", &schema).expect("column"), &schema)
                .expect("comparison");
        assert!(Comparison::of(&two_columns, &schema).is_none());
        let other_type: Arc<dyn PhysicalExpr> =
            Arc::new(BinaryExpr::new(col("quantity", &schema).expect("column"), Operator::Lt, lit(1i64)));
        assert!(Comparison::of(&other_type, &schema).is_none(), "a literal of another type is left to arrow");
        let null = binary(col("quantity", &schema).expect("column"), Operator::Eq, lit(ScalarValue::Int32(None)), &schema)
            .expect("comparison");
        assert!(Comparison::of(&null, &schema).is_none());
    }
}
