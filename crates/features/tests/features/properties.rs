//! Properties that hold for every input: streaming equals batch to the bit, std is a
//! non-negative number (never `-0.0`), hour is 0-23, and bad input is refused naming the row.

use aiops_features::{Error, FeatureSchema};
use proptest::prelude::*;

/// Values pandas treats differently from textbook arithmetic, mixed with ordinary ones.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (0u32..1000).prop_map(|k| f64::from(k) / 10.0),
        2 => any::<f64>(),
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e300, -1e300, 1e-300, 1e16, 1.0,
        ]),
    ]
}

/// Any time pandas can represent.
fn timestamp() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-9.2e9..9.2e9f64),
        (0i64..4_000_000_000).prop_map(|s| s as f64),
        (-100i64..100, -2e-9..2e-9f64).prop_map(|(h, e)| h as f64 * 3600.0 + e),
    ]
}

/// A series with repeats (runs of equal values matter to pandas' same-value rule).
fn series() -> impl Strategy<Value = (usize, Vec<(f64, f64)>)> {
    let point = (timestamp(), value(), 1usize..4);
    (1usize..12, prop::collection::vec(point, 0..120)).prop_map(|(window, points)| {
        let expanded = points.into_iter().flat_map(|(t, v, repeat)| std::iter::repeat_n((t, v), repeat));
        (window, expanded.collect())
    })
}

fn split(points: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
    points.iter().copied().unzip()
}

fn bits<'a>(values: impl IntoIterator<Item = &'a f64>) -> Vec<u64> {
    values.into_iter().map(|v| v.to_bits()).collect()
}

/// Issue 16: the columns are computed in parallel chunks; across their edges they are still the
/// batch's bits, and the first bad timestamp is the one named.
#[test]
fn columns_cross_chunk_edges_and_name_the_first_bad_timestamp() {
    let schema = FeatureSchema::reference();
    let mut timestamps: Vec<f64> = (0..200_000).map(|i| 1.7e9 + 15.0 * f64::from(i)).collect();
    let values: Vec<f64> = (0..200_000).map(|i| f64::from(i % 1_000) / 10.0).collect();
    let batch = schema.compute(&timestamps, &values).unwrap();
    let columns = schema.compute_columns(&timestamps, &values).unwrap();
    assert_eq!(bits(batch.column(2).iter()), bits(&columns.rolling_std));
    assert_eq!(bits(batch.column(3).iter()), bits(&columns.rate_of_change));
    timestamps[150_000] = f64::NAN;
    timestamps[70_000] = f64::INFINITY;
    let error = schema.compute_columns(&timestamps, &values).unwrap_err();
    assert!(matches!(error, Error::InvalidTimestamp { row: 70_000, .. }), "{error}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn streaming_equals_batch_bit_for_bit((window, points) in series()) {
        let schema = FeatureSchema::with_window(window).unwrap();
        let (timestamps, values) = split(&points);
        let batch = schema.compute(&timestamps, &values).unwrap();
        let mut stream = schema.streaming();
        for (row, (&t, &v)) in timestamps.iter().zip(&values).enumerate() {
            let streamed = stream.push(t, v).unwrap();
            let batch_row: Vec<u64> = batch.row(row).iter().map(|x| x.to_bits()).collect();
            let streamed_row: Vec<u64> = streamed.iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(streamed_row, batch_row, "row {}", row);
        }
        prop_assert_eq!(stream.len(), values.len());
    }

    #[test]
    fn columns_equal_batch_bit_for_bit((window, points) in series()) {
        let schema = FeatureSchema::with_window(window).unwrap();
        let (timestamps, values) = split(&points);
        let batch = schema.compute(&timestamps, &values).unwrap();
        let columns = schema.compute_columns(&timestamps, &values).unwrap();
        prop_assert_eq!(bits(batch.column(1).iter()), bits(&columns.rolling_mean));
        prop_assert_eq!(bits(batch.column(2).iter()), bits(&columns.rolling_std));
        prop_assert_eq!(bits(batch.column(3).iter()), bits(&columns.rate_of_change));
        prop_assert_eq!(bits(batch.column(4).iter()), bits(&columns.hour.iter().map(|&h| f64::from(h)).collect::<Vec<_>>()));
    }

    #[test]
    fn std_is_non_negative_and_never_negative_zero_and_hour_is_0_to_23((window, points) in series()) {
        let schema = FeatureSchema::with_window(window).unwrap();
        let (timestamps, values) = split(&points);
        let features = schema.compute(&timestamps, &values).unwrap();
        for (row, r) in features.rows().into_iter().enumerate() {
            let std = r[2];
            prop_assert!(std >= 0.0 && std.is_sign_positive(), "row {}: std {:?}", row, std);
            let hour = r[4];
            prop_assert!((0.0..24.0).contains(&hour) && hour.fract() == 0.0, "row {}: hour {}", row, hour);
        }
    }

    #[test]
    fn batch_refuses_a_length_mismatch(n in 0usize..50, m in 0usize..50) {
        prop_assume!(n != m);
        let result = FeatureSchema::reference().compute(&vec![0.0; n], &vec![1.0; m]);
        prop_assert_eq!(result, Err(Error::LengthMismatch { timestamps: n, values: m }));
    }

    #[test]
    fn an_invalid_timestamp_is_refused_naming_its_row(
        (window, points) in series(),
        position in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e10, -1e19, f64::MAX]),
    ) {
        let schema = FeatureSchema::with_window(window).unwrap();
        let (mut timestamps, values) = split(&points);
        timestamps.push(0.0);
        let mut values = values;
        values.push(1.0);
        let row = position.index(timestamps.len());
        timestamps[row] = bad;
        let refused = |e: Error| matches!(e, Error::InvalidTimestamp { row: r, .. } if r == row);
        prop_assert!(schema.compute(&timestamps, &values).is_err_and(refused));

        // Streaming refuses the same point and stays usable: skipping it gives the batch result
        // of the series without it.
        let mut stream = schema.streaming();
        let mut kept = (Vec::new(), Vec::new());
        for (i, (&t, &v)) in timestamps.iter().zip(&values).enumerate() {
            let pushed = stream.push(t, v);
            if i == row {
                prop_assert!(pushed.is_err_and(refused));
            } else {
                kept.0.push(t);
                kept.1.push(v);
                let batch = schema.compute(&kept.0, &kept.1).unwrap();
                let last: Vec<u64> = batch.row(kept.0.len() - 1).iter().map(|x| x.to_bits()).collect();
                let got: Vec<u64> = pushed.unwrap().iter().map(|x| x.to_bits()).collect();
                prop_assert_eq!(got, last);
            }
        }
    }
}
