//! `read_answer` against raw loopback answers: announced by `Content-Length` or chunked, at the
//! bound and one byte past it, and cut off midway; `read_prefix` of a long answer and a short one.
#![cfg(feature = "http")]

use aiops_bounded::{Error, read_answer, read_prefix};
use aiops_testkit::http::{padded_answer, raw_server};

const LIMIT: usize = 1 << 20;
const BODY: &str = r#"{"status":"success"}"#;

/// What `reader` makes of the answer `reply` writes.
fn answered<F: Future<Output = aiops_bounded::Result<Vec<u8>>>>(
    reply: impl Fn(&str, &str) -> String + Send + 'static,
    reader: impl FnOnce(reqwest::Response) -> F,
) -> aiops_bounded::Result<Vec<u8>> {
    let (url, _) = raw_server(reply);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async { reader(reqwest::Client::new().get(url).send().await.expect("an answer")).await })
}

fn read(reply: impl Fn(&str, &str) -> String + Send + 'static) -> aiops_bounded::Result<Vec<u8>> {
    answered(reply, |response| read_answer(response, LIMIT))
}

#[test]
fn an_answer_at_the_bound_is_read_exactly_and_one_byte_more_is_refused() {
    for announced in [true, false] {
        let body = read(move |_, _| padded_answer(BODY, LIMIT, announced)).expect("at the bound");
        assert_eq!(body.len(), LIMIT, "announced {announced}");
        assert!(body.starts_with(BODY.as_bytes()), "announced {announced}");
        let outcome = read(move |_, _| padded_answer(BODY, LIMIT + 1, announced));
        let Err(error @ Error::TooLarge { limit: LIMIT }) = outcome else {
            panic!("announced {announced}: {outcome:?}")
        };
        assert_eq!(error.to_string(), "the answer is larger than 1048576 bytes");
    }
}

#[test]
fn an_answer_cut_off_before_its_announced_length_is_a_read_error() {
    let outcome =
        read(|_, _| format!("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{BODY}"));
    assert!(matches!(outcome, Err(Error::Read(_))), "{outcome:?}");
}

#[test]
fn a_prefix_is_the_first_bytes_of_a_long_answer_and_all_of_a_short_one() {
    for announced in [true, false] {
        let prefix =
            answered(move |_, _| padded_answer(BODY, 16 * LIMIT, announced), |r| read_prefix(r, 1000))
                .expect("a prefix");
        assert_eq!(prefix.len(), 1000, "announced {announced}");
        assert!(prefix.starts_with(BODY.as_bytes()));
        let short = BODY.len() + 10;
        let whole = answered(move |_, _| padded_answer(BODY, short, announced), |r| read_prefix(r, 1000))
            .expect("a short answer");
        assert_eq!(whole, format!("{BODY}{}", " ".repeat(10)).as_bytes(), "announced {announced}");
    }
}
