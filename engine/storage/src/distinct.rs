//! How many distinct values a column holds, estimated by a HyperLogLog sketch that each rowset
//! stores in its Parquet footer and that merges across rowsets and tablets.
//!
//! Why: the planner puts the smaller side of a hash join on its build side, by estimates that
//! divide the product of both sides' rows by the join key's distinct values. Without a count
//! DataFusion takes the key's range: SSB's `lo_orderdate` spans 61 131 integers (19920101 to
//! 19981230) but holds 2 406 dates, so lineorder joined with every date came out at 251 000
//! rows instead of 6M, and in SSB q4.1 the 243 000 lineorder rows left after three joins
//! went into a hash table while the 80 000 parts probed it. StarRocks keeps the same count
//! per column in its statistics.
//!
//! Integer and date columns get a sketch, the types join keys have, and so do string
//! columns: a GROUP BY on a string that a join carries is grouped by codes only where the
//! string has few values (`cairn_fe`'s `low_cardinality.rs`). A rowset written before
//! sketches existed (or, for strings, before they were sketched) has none, and a column of
//! it then has no count until compaction rewrites it.

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use serde::{Deserialize, Serialize};

/// Bits of a value's hash that pick its register: 2 048 registers, a standard error of about
/// 2.3%, and 2 KB per column in the footer.
const INDEX_BITS: u32 = 11;
const REGISTERS: usize = 1 << INDEX_BITS;

/// The footer key a column's sketch is stored under; the suffix versions the hash and the
/// encoding, so a sketch made another way is never merged with these.
pub fn footer_key(column: &str) -> String {
    format!("cairn.distinct.v1.{column}")
}

/// A HyperLogLog sketch of a column's non-NULL values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctSketch {
    /// Per register, the longest run of leading zero bits (plus one) among the hashes that
    /// fell in it.
    registers: Vec<u8>,
}

impl DistinctSketch {
    /// Bytes the sketch holds, for a cache's budget.
    pub fn memory_size(&self) -> usize {
        self.registers.capacity()
    }
}

impl Default for DistinctSketch {
    fn default() -> DistinctSketch {
        DistinctSketch { registers: vec![0; REGISTERS] }
    }
}

impl DistinctSketch {
    /// The sketch of `array`'s non-NULL values; `None` for a type that is not sketched.
    pub fn of(array: &ArrayRef) -> Option<DistinctSketch> {
        let mut sketch = DistinctSketch::default();
        match array.data_type() {
            DataType::Int8 => sketch.add::<Int8Type>(array, |value| value.into()),
            DataType::Int16 => sketch.add::<Int16Type>(array, |value| value.into()),
            DataType::Int32 => sketch.add::<Int32Type>(array, |value| value.into()),
            DataType::Int64 => sketch.add::<Int64Type>(array, |value| value),
            DataType::UInt8 => sketch.add::<UInt8Type>(array, |value| value.into()),
            DataType::UInt16 => sketch.add::<UInt16Type>(array, |value| value.into()),
            DataType::UInt32 => sketch.add::<UInt32Type>(array, |value| value.into()),
            // Its bits: a value above i64::MAX hashes apart from every other, as it should.
            DataType::UInt64 => sketch.add::<UInt64Type>(array, |value| value as i64),
            DataType::Date32 => sketch.add::<Date32Type>(array, |value| value.into()),
            DataType::Date64 => sketch.add::<Date64Type>(array, |value| value),
            DataType::Utf8 => array.as_string_opt::<i32>()?.iter().flatten().for_each(|value| sketch.insert(hash_bytes(value.as_bytes()))),
            _ => return None,
        }
        Some(sketch)
    }

    fn add<T: ArrowPrimitiveType>(&mut self, array: &ArrayRef, widen: impl Fn(T::Native) -> i64) {
        let Some(values) = array.as_primitive_opt::<T>() else { return };
        match values.nulls().filter(|nulls| nulls.null_count() > 0) {
            None => values.values().iter().for_each(|value| self.insert(widen(*value))),
            Some(_) => values.iter().flatten().for_each(|value| self.insert(widen(value))),
        }
    }

    fn insert(&mut self, value: i64) {
        let hash = mix(value as u64);
        let index = (hash >> (64 - INDEX_BITS)) as usize;
        // A set bit just below the index bits caps the rank at 64 - INDEX_BITS + 1.
        let rank = ((hash << INDEX_BITS) | (1 << (INDEX_BITS - 1))).leading_zeros() as u8 + 1;
        if let Some(register) = self.registers.get_mut(index) {
            *register = (*register).max(rank);
        }
    }

    /// The sketch of both sketches' values together.
    pub fn merge(&mut self, other: &DistinctSketch) {
        for (mine, theirs) in self.registers.iter_mut().zip(&other.registers) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The estimated number of distinct values (Flajolet et al.'s estimate, with linear
    /// counting while many registers are still empty).
    pub fn estimate(&self) -> u64 {
        let registers = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / registers);
        let harmonic: f64 = self.registers.iter().map(|rank| inverse_power_of_two(*rank)).sum();
        let raw = alpha * registers * registers / harmonic;
        let empty = self.registers.iter().filter(|rank| **rank == 0).count();
        let estimate = if raw <= 2.5 * registers && empty > 0 { registers * (registers / empty as f64).ln() } else { raw };
        estimate.round() as u64
    }

    /// The footer text of the sketch: a character per register.
    pub fn encode(&self) -> String {
        self.registers.iter().map(|rank| char::from(b'0' + rank)).collect()
    }

    /// The sketch [`Self::encode`] wrote; `None` for text it could not have written.
    pub fn decode(text: &str) -> Option<DistinctSketch> {
        let registers: Vec<u8> = text.bytes().map(|byte| byte.checked_sub(b'0')).collect::<Option<_>>()?;
        (registers.len() == REGISTERS && registers.iter().all(|rank| u32::from(*rank) <= 64 - INDEX_BITS + 1))
            .then_some(DistinctSketch { registers })
    }
}

/// 2^-rank, built from its exponent bits: exact, as `exp2` is, without a library call per
/// register (the planner estimates every scanned column's sketch for every query).
fn inverse_power_of_two(rank: u8) -> f64 {
    f64::from_bits((1023 - u64::from(rank)) << 52)
}

/// MurmurHash3's 64-bit finalizer: every input bit flips each output bit with probability
/// about one half. Fixed here, not taken from a hashing crate, because sketches written by
/// one build of Cairn are merged by the next.
fn mix(value: u64) -> u64 {
    // The finalizer maps 0 to 0, and 0 is a common value; the offset moves that elsewhere.
    let mut value = value ^ 0x9e37_79b9_7f4a_7c15;
    value ^= value >> 33;
    value = value.wrapping_mul(0xff51_afd7_ed55_8ccd);
    value ^= value >> 33;
    value = value.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    value ^ (value >> 33)
}

/// A string's bytes folded into the 64 bits [`DistinctSketch::insert`] takes, eight at a time
/// through [`mix`], starting from the length so that trailing zero bytes count. Fixed here for
/// the reason `mix` is.
fn hash_bytes(bytes: &[u8]) -> i64 {
    let mut hash = bytes.len() as u64;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hash = mix(hash ^ u64::from_le_bytes(word));
    }
    hash as i64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Date32Array, Int32Array, Int64Array, StringArray};

    use super::*;

    fn within(estimate: u64, actual: u64, error: f64) -> bool {
        (estimate as f64 - actual as f64).abs() <= actual as f64 * error
    }

    /// Counts from a handful to millions come within a few standard errors, whatever the
    /// values' spacing (dates as yyyymmdd integers leave most of their range empty).
    #[test]
    fn estimates_come_near_the_distinct_count() {
        for distinct in [1u64, 7, 100, 2_406, 10_000, 200_000, 1_500_000] {
            let values: ArrayRef =
                Arc::new(Int64Array::from_iter_values((0..distinct as i64 * 3).map(|row| 19_920_101 + (row % distinct as i64) * 37)));
            let estimate = DistinctSketch::of(&values).expect("integers").estimate();
            assert!(within(estimate, distinct, 0.08), "{distinct} distinct values estimated as {estimate}");
        }
    }

    #[test]
    fn inverse_powers_of_two_are_exact() {
        for rank in 0..=64u8 {
            assert_eq!(inverse_power_of_two(rank), (-f64::from(rank)).exp2(), "rank {rank}");
        }
    }

    /// Merging is the sketch of the union: overlapping parts are not counted twice, and the
    /// same value is the same whatever its integer type.
    #[test]
    fn merged_parts_count_their_union() {
        let first: ArrayRef = Arc::new(Int32Array::from_iter_values(0..60_000));
        let second: ArrayRef = Arc::new(Int64Array::from_iter_values(30_000..90_000));
        let (first, second) = (DistinctSketch::of(&first).expect("sketched"), DistinctSketch::of(&second).expect("sketched"));
        let mut merged = first.clone();
        merged.merge(&second);
        assert!(within(merged.estimate(), 90_000, 0.08), "{}", merged.estimate());
        let mut twice = first.clone();
        twice.merge(&first);
        assert_eq!(twice, first);
    }

    #[test]
    fn nulls_do_not_count_and_the_footer_text_reads_back() {
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(1), None, Some(2), None, Some(1)]));
        let sketch = DistinctSketch::of(&dates).expect("dates");
        assert_eq!(sketch.estimate(), 2);
        assert_eq!(DistinctSketch::decode(&sketch.encode()), Some(sketch.clone()));
        assert_eq!(DistinctSketch::of(&(Arc::new(Int32Array::from(vec![None, None])) as ArrayRef)).map(|sketch| sketch.estimate()), Some(0));
        assert!(DistinctSketch::decode("0123").is_none(), "too short");
        assert!(DistinctSketch::decode(&"~".repeat(REGISTERS)).is_none(), "ranks beyond a hash's bits");
        let floats: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![1.0]));
        assert!(DistinctSketch::of(&floats).is_none());
    }

    /// Strings are counted by their bytes: values that differ only in a trailing zero byte or
    /// past the eighth byte are told apart, NULLs do not count, and counts from a few to
    /// hundreds of thousands come near.
    #[test]
    fn strings_are_counted_by_their_bytes() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("a\0"),
            None,
            Some("Customer#000000001"),
            Some("Customer#000000002"),
            Some("a"),
            Some(""),
        ]));
        assert_eq!(DistinctSketch::of(&strings).expect("strings").estimate(), 5);
        for distinct in [25usize, 1_000, 150_000] {
            let names: ArrayRef =
                Arc::new(StringArray::from_iter_values((0..distinct * 2).map(|row| format!("Customer#{:09}", row % distinct))));
            let estimate = DistinctSketch::of(&names).expect("strings").estimate();
            assert!(within(estimate, distinct as u64, 0.08), "{distinct} distinct strings estimated as {estimate}");
        }
    }
}
