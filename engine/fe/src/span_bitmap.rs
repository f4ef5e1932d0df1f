//! A bit per integer between a smallest value and a largest, looked up by a column of integers.
//! A tabulated dynamic filter (`scan_filter.rs`: the filter's outcome per integer of a key's
//! span) and a runtime filter (`runtime_filter.rs`: the build side's keys) are both one.
//!
//! A fact-table scan looks up every row, so a batch without a selection is looked up 64 rows
//! to a word with no branch per row; once few rows are selected, only those are
//! (`selected_rows.rs`).

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
};

use crate::selected_rows::test_selected;

#[derive(Debug)]
pub(crate) struct SpanBitmap {
    min: i64,
    span: u64,
    /// Bit `(v - min) % 64` of word `(v - min) / 64` is value `v`'s. A power of two of
    /// them, as [`cairn_kernels::look_up_bits`] takes them.
    words: Vec<u64>,
}

impl SpanBitmap {
    /// `words` covers `span` integers from `min` (at least `span` bits).
    pub(crate) fn new(min: i64, span: u64, mut words: Vec<u64>) -> SpanBitmap {
        words.resize(words.len().max(1).next_power_of_two(), 0);
        SpanBitmap { min, span, words }
    }

    /// Whether a column of `data_type` can be looked up: the integer types [`Self::rows`] takes.
    pub(crate) fn looks_up(data_type: &DataType) -> bool {
        matches!(
            data_type,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::Date32
        )
    }

    pub(crate) fn span(&self) -> u64 {
        self.span
    }

    /// The smallest and largest value of the span; `None` for an empty span.
    pub(crate) fn bounds(&self) -> Option<(i64, i64)> {
        let last = i64::try_from(self.span.checked_sub(1)?).ok()?;
        Some((self.min, self.min.checked_add(last)?))
    }

    fn bit(&self, offset: u64) -> bool {
        self.words.get((offset / 64) as usize).is_some_and(|word| word >> (offset % 64) & 1 != 0)
    }

    /// The bit of `value`, `None` outside the span.
    fn value(&self, value: i64) -> Option<bool> {
        let offset = value.wrapping_sub(self.min) as u64;
        (offset < self.span).then(|| self.bit(offset))
    }

    /// Each row's bit (a NULL row's is `null_holds`), only at the rows of `within` if given
    /// (the others false), and whether some non-NULL row's value lay outside the span (its
    /// bit reads false). `None` for a column that is not of an integer type.
    pub(crate) fn rows(&self, array: &ArrayRef, within: Option<&BooleanBuffer>, null_holds: bool) -> Option<(BooleanBuffer, bool)> {
        match array.data_type() {
            DataType::Int8 => self.typed_rows::<Int8Type>(array, within, null_holds),
            DataType::Int16 => self.typed_rows::<Int16Type>(array, within, null_holds),
            DataType::Int32 => self.typed_rows::<Int32Type>(array, within, null_holds),
            DataType::Int64 => self.typed_rows::<Int64Type>(array, within, null_holds),
            DataType::UInt8 => self.typed_rows::<UInt8Type>(array, within, null_holds),
            DataType::UInt16 => self.typed_rows::<UInt16Type>(array, within, null_holds),
            DataType::UInt32 => self.typed_rows::<UInt32Type>(array, within, null_holds),
            DataType::Date32 => self.typed_rows::<Date32Type>(array, within, null_holds),
            _ => None,
        }
    }

    fn typed_rows<T>(&self, array: &ArrayRef, within: Option<&BooleanBuffer>, null_holds: bool) -> Option<(BooleanBuffer, bool)>
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64>,
    {
        let values = array.as_primitive_opt::<T>()?.values();
        let nulls = array.nulls().filter(|nulls| nulls.null_count() > 0);
        let Some(within) = within else {
            return Some(self.every_row(values, nulls, null_holds));
        };
        let mut outside = false;
        let bits = test_selected(within, |row| {
            if nulls.is_some_and(|nulls| nulls.is_null(row)) {
                return null_holds;
            }
            self.value(values[row].into()).unwrap_or_else(|| {
                outside = true;
                false
            })
        });
        Some((bits, outside))
    }

    /// Every row, 64 to a word, by [`cairn_kernels::look_up_bits`]. A NULL slot's value is
    /// whatever it is, so its bit and whether it lies outside are masked by the validity words.
    pub(crate) fn every_row<N: Into<i64> + Copy>(&self, values: &[N], nulls: Option<&NullBuffer>, null_holds: bool) -> (BooleanBuffer, bool) {
        let valid_chunks = nulls.map(|nulls| nulls.inner().bit_chunks());
        let valid = valid_chunks.as_ref().map(|chunks| chunks.iter_padded());
        let (words, outside) = cairn_kernels::look_up_bits(values, self.min, self.span, &self.words, valid, null_holds);
        (BooleanBuffer::new(Buffer::from_vec(words), 0, values.len()), outside)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int32Array, Int64Array};

    use super::*;

    /// Bits 0, 2 and 70 of a span of 100 from 10: values 10, 12 and 80.
    fn bitmap() -> SpanBitmap {
        SpanBitmap::new(10, 100, vec![0b101, 1 << 6])
    }

    /// Every path (whole batch and selected rows, with and without NULLs, NULL holding or
    /// not) gives each row its value's bit, and tells a value outside the span apart.
    #[test]
    fn rows_agree_on_every_path() {
        let values: Vec<Option<i64>> = (0..150).map(|row| (row % 9 != 4).then_some(row + 5)).collect();
        let with_nulls: ArrayRef = Arc::new(Int64Array::from(values.clone()));
        let selection = BooleanBuffer::from_iter((0..150).map(|row| row % 4 != 1));
        for null_holds in [false, true] {
            for within in [None, Some(&selection)] {
                let (bits, outside) = bitmap().rows(&with_nulls, within, null_holds).expect("integers");
                for (row, value) in values.iter().enumerate() {
                    let expected = within.is_none_or(|within| within.value(row))
                        && match value {
                            None => null_holds,
                            Some(value) => matches!(value, 10 | 12 | 80),
                        };
                    assert_eq!(bits.value(row), expected, "row {row}, NULL holds: {null_holds}, within: {}", within.is_some());
                }
                // Values 5..9 and 110.. lie outside the span from 10 to 109.
                assert!(outside);
            }
        }
        let inside: ArrayRef = Arc::new(Int32Array::from(vec![10, 11, 12, 80, 109]));
        let (bits, outside) = bitmap().rows(&inside, None, false).expect("integers");
        assert_eq!(bits.iter().collect::<Vec<_>>(), [true, false, true, true, false]);
        assert!(!outside);
        // A NULL slot holding a value outside the span is not outside.
        let null_slot: ArrayRef = Arc::new(Int32Array::new(vec![10, 500].into(), Some(NullBuffer::from(vec![true, false]))));
        let (bits, outside) = bitmap().rows(&null_slot, None, false).expect("integers");
        assert_eq!(bits.iter().collect::<Vec<_>>(), [true, false]);
        assert!(!outside);
        let strings: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec!["10"]));
        assert!(bitmap().rows(&strings, None, false).is_none());
    }

    /// A span whose words are not a power of two in number: the padding word and values far
    /// outside (below `min` too), whose word indexes are masked, never set a bit.
    #[test]
    fn values_outside_a_padded_span_read_false() {
        // 150 integers from -20 (three words), every third one set, and the last.
        let mut words = vec![0u64; 3];
        for offset in (0..150).filter(|offset| offset % 3 == 0).chain([149]) {
            words[offset / 64] |= 1 << (offset % 64);
        }
        let bitmap = SpanBitmap::new(-20, 150, words);
        let values: Vec<i64> = (-700..700).chain([i64::MIN, i64::MAX, 236, 255, -84]).collect();
        let array: ArrayRef = Arc::new(Int64Array::from(values.clone()));
        let every_third = |value: i64| (-20..130).contains(&value) && (value + 20) % 3 == 0 || value == 129;
        let selection = BooleanBuffer::from_iter(values.iter().map(|value| value % 2 == 0));
        for within in [None, Some(&selection)] {
            let (bits, outside) = bitmap.rows(&array, within, false).expect("integers");
            for (row, value) in values.iter().enumerate() {
                let expected = within.is_none_or(|within| within.value(row)) && every_third(*value);
                assert_eq!(bits.value(row), expected, "{value}, within: {}", within.is_some());
            }
            assert!(outside);
        }
    }
}
