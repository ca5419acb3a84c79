//! Access control on the real binary: a host exposed beyond loopback
//! without a token refuses to start, and one serving TLS with tokens
//! answers HTTPS and WSS, asks for the token where it should, and shows
//! the token nowhere: not in its API, its stream or its log.

use futures_util::StreamExt;
use perfwatch_tests::{HostDir, TestCertificate, WAIT, https_request, run_cli, wss_connect};
use tokio_tungstenite::tungstenite::Message;

const ADMIN: &str = "env-admin-7d1c9e";
const READER: &str = "file-reader-42ab";

#[test]
fn a_non_loopback_bind_without_a_token_refuses_to_start_and_says_how_to_set_one() {
    let dir = HostDir::new().config(1000, "bind = \"0.0.0.0\"\n");
    let config = dir.config_file();
    let out = run_cli(["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.success, "{}", out.text());
    for hint in [
        "auth_token",
        "PERFWATCH_AUTH_TOKEN",
        "allow_unauthenticated",
    ] {
        assert!(out.stderr.contains(hint), "no {hint} in: {}", out.stderr);
    }
    let out = run_cli(["config", "check", config.to_str().unwrap()]);
    assert!(
        !out.success && out.stderr.contains("auth_token"),
        "{}",
        out.text()
    );
}

#[test]
fn tls_with_tokens_serves_https_and_wss_and_never_shows_a_token() {
    let cert = TestCertificate::self_signed();
    let dir = HostDir::new().config(
        200,
        &format!(
            "[server]\nread_tokens = [\"{READER}\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.cert().display(),
            cert.key().display()
        ),
    );
    let mut host = dir.start_with_env(&[("PERFWATCH_AUTH_TOKEN", ADMIN)]);
    let addr = host.addr;
    let get = |path: &str, token: Option<&str>| {
        let header = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| ("Authorization", h))
            .into_iter()
            .collect();
        https_request(addr, &cert.cert(), "GET", path, &headers).expect("an HTTPS answer")
    };
    assert_eq!(get("/healthz", None).status, 200);
    let refused = get("/api/v1/alerts", None);
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(get("/api/v1/alerts", Some(READER)).status, 200);
    let config = get("/api/v1/config", Some(ADMIN));
    assert_eq!(config.status, 200, "{}", config.body);
    assert!(
        !config.body.contains(ADMIN) && !config.body.contains(READER),
        "{}",
        config.body
    );
    // A plain-HTTP request to the TLS port gets no API answer.
    assert!(
        perfwatch_tests::try_post_json(addr, "/api/v1/metrics", "[]")
            .map_or(true, |r| r.status != 200)
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let refused = wss_connect(addr, &cert.cert(), "/ws", "perfwatch").await;
        assert!(refused.is_err(), "a WebSocket without a token is refused");
        let mut socket = wss_connect(
            addr,
            &cert.cert(),
            "/ws",
            &format!("perfwatch, bearer.{READER}"),
        )
        .await
        .expect("WSS with the token as a subprotocol");
        let first = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("initial_data in time")
            .expect("open")
            .expect("a frame");
        let Message::Text(text) = first else {
            panic!("{first:?}")
        };
        assert!(text.contains("\"initial_data\""), "{text}");
        assert!(!text.contains(ADMIN) && !text.contains(READER), "{text}");
    });
    let log = host.log().join("\n");
    assert!(!log.contains(ADMIN) && !log.contains(READER), "{log}");
}
