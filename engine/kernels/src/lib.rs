//! Hot loops compiled twice: for the baseline x86-64 CPU, and for one with AVX2, picked at
//! run time when the CPU has it. The rest of Cairn is built for the baseline CPU, so it runs
//! anywhere, and forbids unsafe code; here the one unsafe operation is the call into a loop's
//! AVX2 copy, made only after `is_x86_feature_detected!` has found AVX2 and BMI2.
//!
//! Why: a runtime filter tests every row of a fact-table scan against a bitmap of the build
//! side's keys (`cairn_fe`'s `SpanBitmap`), 6M lineorder rows per SSB query, and that loop
//! was 22% of the SSB queries' CPU (perf). Compiled for AVX2, the loop packs the rows' bits
//! into words with vector shifts (`vpsllvq`); the baseline copy does it row by row. Paired runs of
//! the 13 SSB multi-table queries (`compare_builds.py`, 16 rounds): server CPU per round
//! 370 -> 320 ms. Building the whole binary for x86-64-v3, with this loop as it was, changed
//! nothing measurable (TPC-H and SSB, CPU per round 2570 ms either way): the rest stays portable.
//!
//! The same loop looks up the outcome of a WHERE conjunct on a dictionary-encoded column by
//! each row's key (`cairn_fe`'s `scan_filter.rs`), which packed one bit at a time before and
//! was 35% of SSB flat q2.1's and q3.1's CPU.

/// The bits of `values` in a bitmap of the integers from `min` to `min + span - 1`: bit
/// `v - min` of `bitmap` (64 to a word, lowest first) is value `v`'s. `bitmap` must hold a
/// power of two of words covering the span; one that does not reads as all zeros.
///
/// Returns the bits 64 values to a word, and whether some value lay outside the span (its
/// bit is 0). `valid` gives the validity words of values with NULLs: a NULL value's bit is
/// `null_holds`, and it does not count as outside whatever its slot holds.
pub fn look_up_bits<N>(
    values: &[N],
    min: i64,
    span: u64,
    bitmap: &[u64],
    valid: Option<impl Iterator<Item = u64>>,
    null_holds: bool,
) -> (Vec<u64>, bool)
where
    N: Into<i64> + Copy,
{
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("bmi2") {
        // SAFETY: the CPU has AVX2 and BMI2, the features `look_up_bits_avx2` is compiled for.
        #[allow(unsafe_code)]
        return unsafe { look_up_bits_avx2(values, min, span, bitmap, valid, null_holds) };
    }
    look_up_bits_portable(values, min, span, bitmap, valid, null_holds)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2")]
fn look_up_bits_avx2<N>(
    values: &[N],
    min: i64,
    span: u64,
    bitmap: &[u64],
    valid: Option<impl Iterator<Item = u64>>,
    null_holds: bool,
) -> (Vec<u64>, bool)
where
    N: Into<i64> + Copy,
{
    look_up_bits_portable(values, min, span, bitmap, valid, null_holds)
}

/// The loop itself, inlined into each copy so that each is compiled for its own CPU.
#[inline(always)]
fn look_up_bits_portable<N>(
    values: &[N],
    min: i64,
    span: u64,
    bitmap: &[u64],
    valid: Option<impl Iterator<Item = u64>>,
    null_holds: bool,
) -> (Vec<u64>, bool)
where
    N: Into<i64> + Copy,
{
    const NOTHING: [u64; 1] = [0];
    let bitmap = if bitmap.len().is_power_of_two() {
        bitmap
    } else {
        &NOTHING
    };
    // A span of at most 64 values (a dictionary of a region's or a nation's names) is one
    // word, shifted by each offset with no load: on AVX2, 6M keys took 1.7 ms that way and
    // 3.6-4.5 ms through the general loop.
    if let [only] = bitmap {
        let only = *only;
        return look_up_each(values, min, span, valid, null_holds, |offset| only >> (offset % 64) & 1);
    }
    // The word's index is masked where it would be tested, so the loop has no branch and
    // the compiler can gather; the bit read for a value outside the span is then any bit,
    // and `inside` clears it. Sliced so the compiler knows each masked index is in bounds.
    let mask = bitmap.len() - 1;
    let bitmap = &bitmap[..=mask];
    look_up_each(values, min, span, valid, null_holds, |offset| {
        bitmap[(offset / 64) as usize & mask] >> (offset % 64) & 1
    })
}

/// Packs `bit(offset)` of each value's offset from `min` into words, cleared outside the
/// span, with NULLs as [`look_up_bits`] says.
#[inline(always)]
fn look_up_each<N>(
    values: &[N],
    min: i64,
    span: u64,
    mut valid: Option<impl Iterator<Item = u64>>,
    null_holds: bool,
    bit: impl Fn(u64) -> u64,
) -> (Vec<u64>, bool)
where
    N: Into<i64> + Copy,
{
    let mut words = Vec::with_capacity(values.len().div_ceil(64));
    let mut outside = false;
    for chunk in values.chunks(64) {
        let (mut word, mut beyond) = (0u64, 0u64);
        for (position, value) in chunk.iter().enumerate() {
            let offset = (*value).into().wrapping_sub(min) as u64;
            let inside = offset < span;
            beyond |= u64::from(!inside) << position;
            word |= (bit(offset) & u64::from(inside)) << position;
        }
        match valid.as_mut().and_then(Iterator::next) {
            Some(valid) => {
                outside |= beyond & valid != 0;
                word = (word & valid) | if null_holds { !valid } else { 0 };
            }
            None => outside |= beyond != 0,
        }
        words.push(word);
    }
    (words, outside)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every third integer of 150 from -20, and the last: three words, padded to four.
    fn bitmap() -> Vec<u64> {
        let mut words = vec![0u64; 4];
        for offset in (0..150).filter(|offset| offset % 3 == 0).chain([149]) {
            words[offset / 64] |= 1 << (offset % 64);
        }
        words
    }

    fn expected(value: i64) -> bool {
        (-20..130).contains(&value) && (value + 20) % 3 == 0 || value == 129
    }

    fn bit(words: &[u64], row: usize) -> bool {
        words[row / 64] >> (row % 64) & 1 != 0
    }

    /// Both copies agree with the bitmap for values inside, around and far outside the span
    /// (past the padding words, and below `min`), in a count of values that is not a
    /// multiple of 64.
    #[test]
    fn both_copies_read_each_values_bit() {
        let values: Vec<i64> = (-700..700)
            .chain([i64::MIN, i64::MAX, 236, 255, -84])
            .collect();
        let portable = look_up_bits_portable(
            &values,
            -20,
            150,
            &bitmap(),
            None::<std::iter::Empty<u64>>,
            false,
        );
        let dispatched = look_up_bits(
            &values,
            -20,
            150,
            &bitmap(),
            None::<std::iter::Empty<u64>>,
            false,
        );
        assert_eq!(portable, dispatched);
        let (words, outside) = portable;
        assert_eq!(words.len(), values.len().div_ceil(64));
        for (row, value) in values.iter().enumerate() {
            assert_eq!(bit(&words, row), expected(*value), "{value}");
        }
        assert!(outside);
        let inside: Vec<i32> = vec![-20, -19, 129, 0, 1];
        let (words, outside) = look_up_bits(
            &inside,
            -20,
            150,
            &bitmap(),
            None::<std::iter::Empty<u64>>,
            false,
        );
        assert_eq!(words, [0b10101]);
        assert!(!outside);
    }

    /// A NULL's bit is `null_holds`, and a value outside the span under a NULL is not outside.
    #[test]
    fn nulls_read_as_told() {
        let values: Vec<i64> = vec![-20, 5000, -19, -17];
        let valid = 0b1101_u64;
        for null_holds in [false, true] {
            let (words, outside) = look_up_bits(
                &values,
                -20,
                150,
                &bitmap(),
                Some([valid].into_iter()),
                null_holds,
            );
            assert_eq!(words, [0b1001 | if null_holds { !valid } else { 0 }]);
            assert!(!outside);
        }
        let (_, outside) = look_up_bits(
            &values,
            -20,
            150,
            &bitmap(),
            Some([0b1111_u64].into_iter()),
            false,
        );
        assert!(outside);
    }

    /// A span of one word (25 values from 3, every fourth set, as a dictionary of nations'
    /// outcomes would be): both copies read each value's bit, nothing outside the span,
    /// however far, and NULLs as told.
    #[test]
    fn a_span_of_one_word_reads_each_values_bit() {
        let word = (0..25).filter(|offset| offset % 4 == 0).fold(0u64, |word, offset| word | 1 << offset);
        let expected = |value: i64| (3..28).contains(&value) && (value - 3) % 4 == 0;
        let values: Vec<i64> = (-100..200).chain([i64::MIN, i64::MAX, 67, 3 + 64]).collect();
        let none = None::<std::iter::Empty<u64>>;
        let portable = look_up_bits_portable(&values, 3, 25, &[word], none, false);
        assert_eq!(portable, look_up_bits(&values, 3, 25, &[word], None::<std::iter::Empty<u64>>, false));
        let (words, outside) = portable;
        for (row, value) in values.iter().enumerate() {
            assert_eq!(bit(&words, row), expected(*value), "{value}");
        }
        assert!(outside);
        let keys: Vec<u16> = vec![3, 4, 7, 27, 28, 50];
        let valid = 0b11_1011_u64;
        for null_holds in [false, true] {
            let (words, outside) = look_up_bits(&keys, 3, 25, &[word], Some([valid].into_iter()), null_holds);
            assert_eq!(words, [0b1001 | if null_holds { !valid } else { 0 }]);
            assert!(outside, "28 and 50 lie outside");
        }
    }

    /// A bitmap of a count of words that is not a power of two reads as all zeros instead of
    /// past its end.
    #[test]
    fn a_bitmap_not_a_power_of_two_reads_nothing() {
        let (words, outside) = look_up_bits(
            &[0_i64, 1, 2],
            0,
            192,
            &[u64::MAX; 3],
            None::<std::iter::Empty<u64>>,
            false,
        );
        assert_eq!(words, [0]);
        assert!(!outside);
    }
}
