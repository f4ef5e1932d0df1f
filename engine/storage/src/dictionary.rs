//! Low-cardinality string columns as dictionaries: the distinct values of a row group's
//! column once, and a 16-bit key per row, StarRocks' low-cardinality optimization at the
//! scale of one row group.
//!
//! A scan asks for a column in this form when the query filters on it: a predicate on the
//! column then runs once per distinct value (250 cities, not 131 072 rows) and a row's
//! outcome is a lookup by its key, and rows the filter drops are never copied as strings.
//! The encoding is computed on first use and kept in the decoded-column cache beside the
//! plain array, so a warm query pays for neither.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

/// The type of a dictionary-encoded string column.
pub fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8))
}

/// Rows per distinct value a column needs on average before its dictionary pays: evaluating
/// a predicate on the values plus a lookup per row must beat evaluating it on every row.
const ROWS_PER_VALUE: usize = 8;

/// `array` (Utf8) dictionary-encoded, or `None` when it is not a string column or has too
/// many distinct values for the encoding to pay.
pub fn encode_low_cardinality(array: &ArrayRef) -> Option<ArrayRef> {
    if array.data_type() != &DataType::Utf8 || array.len() < ROWS_PER_VALUE {
        return None;
    }
    // Fails once the distinct values outgrow 16-bit keys.
    let encoded = cast(array.as_ref(), &dictionary_type()).ok()?;
    let values = encoded.as_any_dictionary_opt()?.values().len();
    (values.saturating_mul(ROWS_PER_VALUE) <= array.len()).then(|| Arc::clone(&encoded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::UInt16Type;

    #[test]
    fn few_distinct_values_encode_and_decode_to_the_same_strings() {
        let cities: Vec<Option<&str>> =
            (0..1000).map(|row| if row % 7 == 0 { None } else { Some(["PERU", "UNITED KI1", ""][row % 3]) }).collect();
        let array: ArrayRef = Arc::new(StringArray::from(cities));
        let encoded = encode_low_cardinality(&array).expect("three values in 1000 rows encode");
        assert_eq!(encoded.data_type(), &dictionary_type());
        assert_eq!(encoded.as_dictionary::<UInt16Type>().values().len(), 3);
        assert_eq!(encoded.null_count(), array.null_count());
        let decoded = cast(encoded.as_ref(), &DataType::Utf8).expect("decodes");
        assert_eq!(decoded.as_ref(), array.as_ref());
    }

    #[test]
    fn many_distinct_values_and_other_types_stay_plain() {
        let unique: ArrayRef = Arc::new(StringArray::from((0..1000).map(|row| format!("comment {row}")).collect::<Vec<_>>()));
        assert!(encode_low_cardinality(&unique).is_none());
        // 200 values in 1000 rows: 5 rows per value, under the threshold.
        let two_hundred: ArrayRef = Arc::new(StringArray::from((0..1000).map(|row| format!("v{}", row % 200)).collect::<Vec<_>>()));
        assert!(encode_low_cardinality(&two_hundred).is_none());
        let integers: ArrayRef = Arc::new(datafusion::arrow::array::Int32Array::from(vec![1; 100]));
        assert!(encode_low_cardinality(&integers).is_none());
    }
}
