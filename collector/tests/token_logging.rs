//! The operator token never reaches the log: why it exists. The request log
//! (tower-http's trace layer) and the collector's own events are captured at
//! TRACE level while a right and a wrong token are sent as a bearer header and
//! through the login form. Its own test binary, so its global log subscriber
//! sees every request (no other test runs beside it).

mod common;

use common::*;

/// A `MakeWriter` appending every log line to a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_is_never_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    const TOKEN: &str = "tok-SECRET-4242";
    let h = Harness::start_with(|c| c.admin_token = Some(TOKEN.into())).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for auth in [TOKEN, "wrong-guess"] {
        c.get(h.url("/v1/kpis"))
            .bearer_auth(auth)
            .send()
            .await
            .unwrap();
        c.post(h.url("/login"))
            .form(&[("token", auth), ("next", "/")])
            .send()
            .await
            .unwrap();
    }
    h.running.shutdown().await.unwrap();
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("uri=/login"),
        "the request log was captured: {text}"
    );
    assert!(
        !text.contains(TOKEN) && !text.contains("wrong-guess"),
        "{text}"
    );
}
