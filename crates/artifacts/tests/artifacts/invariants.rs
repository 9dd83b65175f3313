//! What the CSV readers guarantee on any bytes, checked by the seeded mutation test in
//! `artifacts.rs` and by the cargo-fuzz target `fuzz/fuzz_targets/csv_readers.rs` (which
//! includes this file): [`parse_series`] and [`parse_table`] return a value or an error naming
//! the line, never panic; what they accept is consistent (one length for every column, finite
//! numbers where required, increasing timestamps where asked) and, written back with the
//! crate's own field quoting and float format, reads back the same.

use std::path::Path;

use aiops_artifacts::series::{Order, Series, format_float, parse_series};
use aiops_artifacts::table::{Table, csv_field, parse_table};

/// Equal, or both NaN (`-NaN` reads as NaN: the sign of a NaN is not kept).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Reads `bytes` as a data CSV in every order mode and as a table, checking what each accepts;
/// returns how many of the four readings were accepted.
pub fn check_csv(bytes: &[u8]) -> usize {
    let path = Path::new("fuzz.csv");
    let mut accepted = 0;
    let strict = parse_series(bytes, path, Order::Strict).ok();
    for order in [Order::Strict, Order::Sort, Order::Records] {
        let Ok(series) = parse_series(bytes, path, order) else {
            assert!(strict.is_none(), "{order:?} refused what Strict accepts");
            continue;
        };
        accepted += 1;
        check_series(&series, order);
        if let Some(strict) = &strict {
            assert!(same_series(&series, strict), "{order:?} reads a strictly increasing file differently");
        }
    }
    if let Ok(table) = parse_table(bytes, path, None) {
        accepted += 1;
        check_table(&table);
    }
    accepted
}

fn check_series(series: &Series, order: Order) {
    let rows = series.values.len();
    assert_eq!(series.timestamps.len(), rows);
    assert_eq!(series.timestamp_text.len(), rows);
    assert!(series.timestamps.iter().all(|t| t.is_finite()), "a non-finite timestamp was accepted");
    if order != Order::Records {
        assert!(series.timestamps.windows(2).all(|p| p[0] < p[1]), "{order:?} accepted unordered timestamps");
    }
    let mut text = format!("{},{}\n", csv_field(&series.timestamp_column), csv_field(&series.value_column));
    for (timestamp, value) in series.timestamp_text.iter().zip(&series.values) {
        text.push_str(&format!("{},{}\n", csv_field(timestamp), format_float(*value)));
    }
    let again = parse_series(text.as_bytes(), Path::new("again.csv"), Order::Records)
        .unwrap_or_else(|e| panic!("a series written back does not read: {e}\n{text}"));
    assert!(same_series(&again, series), "read back as {again:?}:\n{text}");
}

/// Equal series, NaN values included.
fn same_series(a: &Series, b: &Series) -> bool {
    let same_all = |x: &[f64], y: &[f64]| x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(*x, *y));
    a.timestamp_column == b.timestamp_column
        && a.value_column == b.value_column
        && a.timestamp_text == b.timestamp_text
        && same_all(&a.timestamps, &b.timestamps)
        && same_all(&a.values, &b.values)
}

fn check_table(table: &Table) {
    let (rows, width) = table.values.dim();
    assert_eq!(width, table.columns.len());
    assert!(width > 0, "a table without columns was accepted");
    assert!(table.values.iter().all(|v| v.is_finite()), "a non-finite value was accepted");
    let timestamps = table.timestamps.as_ref();
    assert!(timestamps.is_none_or(|t| t.len() == rows), "one timestamp per row");
    let mut header: Vec<String> = table.columns.iter().map(|c| csv_field(c).into_owned()).collect();
    if timestamps.is_some() {
        header.push("timestamp".into());
    }
    // A lone empty field is written quoted: an empty line is no record at all.
    let mut text = if header == [""] { "\"\"\n".to_owned() } else { header.join(",") + "\n" };
    for (i, row) in table.values.rows().into_iter().enumerate() {
        let mut fields: Vec<String> = row.iter().map(|v| format_float(*v)).collect();
        if let Some(timestamps) = timestamps {
            fields.push(csv_field(timestamps.get(i).expect("one timestamp per row")).into_owned());
        }
        text.push_str(&(fields.join(",") + "\n"));
    }
    let again = parse_table(text.as_bytes(), Path::new("again.csv"), Some(&table.columns))
        .unwrap_or_else(|e| panic!("a table written back does not read: {e}\n{text}"));
    assert_eq!(&again, table, "{text}");
}
