//! The email channel plugin through the host's SMTP import, against a real
//! relay (aiosmtpd): an alert raised in perfwatch arrives as one message to
//! every recipient, with a subject naming it and a text and an HTML part
//! (escaped); over plain SMTP on loopback, over STARTTLS and implicit TLS
//! with a self-signed certificate the channel is told to trust, with AUTH
//! whose password appears nowhere; and a plain relay off loopback is
//! refused before anything is sent.

use std::ffi::OsStr;

use perfwatch_tests::{
    HostDir, PerfwatchProcess, ReceivedMail, SmtpRelay, SmtpSecurity, TestCertificate, WAIT, get,
    post_json, run_cli, wait_for,
};
use serde_json::Value;

/// A password that must never show: not in the log, the API or an error.
const PASSWORD: &str = "pw-0f8a1c5e7b2d";

/// The email plugin's grant, with a deadline that leaves the relay time
/// (the default second is tight for a TLS handshake on a loaded machine).
const PLUGIN: &str = r#"
[[plugins]]
name = "email"
allow_email = true
limits = { call_timeout_ms = 10000 }
"#;

/// The rule the tests raise; its description has markup, which the HTML
/// part must show as text.
const RULE: &str = r#"
[[alert_rules]]
id = "queue"
metric = "e2e.queue"
condition = "greater_than"
threshold = 10.0
severity = "critical"
description = "<b>Jobs</b> wait & pile up"
runbook_url = "https://wiki.example.com/queue?team=ops&level=2"
"#;

/// An email channel named `name` sending through `relay` with `smtp`
/// (the table's other keys, inline TOML) and `rest` (more channel keys).
fn channel(name: &str, relay: &SmtpRelay, smtp: &str, rest: &str) -> String {
    format!(
        r#"
[[alerting.channels]]
type = "email"
name = "{name}"
filters = {{ metrics = ["e2e.queue"] }}
config = {{ recipients = ["ops@example.com", "oncall@example.com"], from = "perfwatch@example.com", subject_prefix = "[e2e] ", smtp = {{ host = "127.0.0.1", port = {port}, {smtp} }} }}
{rest}
"#,
        port = relay.addr.port()
    )
}

fn raise(host: &PerfwatchProcess, value: f64) {
    let posted = post_json(
        host.addr,
        "/api/v1/metrics",
        &format!(r#"[{{"metric": "e2e.queue", "value": {value}, "labels": {{"queue": "a"}}}}]"#),
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
}

/// The first message `relay` accepted whose subject contains `subject`.
fn mail(host: &mut PerfwatchProcess, relay: &SmtpRelay, subject: &str) -> ReceivedMail {
    wait_for(
        &format!("a message about {subject:?}"),
        WAIT,
        || {
            format!(
                "perfwatch:\n{}\nrelay:\n{}",
                host.log().join("\n"),
                relay.log()
            )
        },
        || {
            relay.messages().into_iter().find(|m| {
                m.parsed["subject"]
                    .as_str()
                    .is_some_and(|s| s.contains(subject))
            })
        },
    )
}

#[test]
fn an_alert_is_one_message_to_every_recipient_with_a_text_and_an_html_part() {
    let relay = SmtpRelay::start(SmtpSecurity::Plain, None);
    let dir = HostDir::new().shipped(&["email"]).config(
        250,
        &format!(
            "{PLUGIN}{RULE}{}",
            channel("mail", &relay, r#"tls = "none""#, "")
        ),
    );
    let mut host = dir.start();
    raise(&host, 50.0);
    let firing = mail(&mut host, &relay, "[FIRING:1]");
    let m = &firing.parsed;
    assert_eq!(m["subject"], "[e2e] [FIRING:1] CRITICAL rule:queue", "{m}");
    assert_eq!(m["mail_from"], "perfwatch@example.com", "{m}");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["ops@example.com", "oncall@example.com"]),
        "{m}"
    );
    assert_eq!(m["to"], "ops@example.com, oncall@example.com", "{m}");
    assert_eq!(m["tls"], false, "{m}");
    assert_eq!(m["content_type"], "multipart/alternative", "{m}");
    assert_eq!(
        m["parts"],
        serde_json::json!(["multipart/alternative", "text/plain", "text/html"]),
        "{m}"
    );
    // SMTP carries lines ending in CRLF.
    let text = m["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(
        text.starts_with("[e2e] [FIRING:1] CRITICAL rule:queue\n"),
        "{text}"
    );
    for line in [
        "[CRITICAL] firing: ",
        "  rule:        rule:queue\n",
        "  value:       e2e.queue = 50 (threshold 10)\n",
        "  labels:      queue=\"a\"\n",
        "  description: <b>Jobs</b> wait & pile up\n",
        "  runbook:     https://wiki.example.com/queue?team=ops&level=2\n",
        &format!(
            "  details:     http://{}/api/v1/alerts/history?rule=rule%3Aqueue&start=",
            host.addr
        ),
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("<td>&lt;b&gt;Jobs&lt;/b&gt; wait &amp; pile up</td>"),
        "{html}"
    );
    assert!(!html.contains("<b>Jobs"), "{html}");
    assert!(
        html.contains(r#"<a href="https://wiki.example.com/queue?team=ops&amp;level=2">"#),
        "{html}"
    );
    assert!(html.contains("<td>queue=&quot;a&quot;</td>"), "{html}");

    raise(&host, 0.0);
    let resolved = mail(&mut host, &relay, "[RESOLVED:1]");
    assert_eq!(
        resolved.parsed["subject"],
        "[e2e] [RESOLVED:1] CRITICAL rule:queue"
    );
    let text = resolved.parsed["text"]
        .as_str()
        .unwrap()
        .replace("\r\n", "\n");
    assert!(
        text.contains("[CRITICAL] resolved: ") && text.contains("  resolved:    "),
        "{text}"
    );
    let raw = String::from_utf8_lossy(&resolved.raw);
    assert!(raw.contains("From: perfwatch@example.com"), "{raw}");
}

#[test]
fn tls_relays_with_a_certificate_of_their_own_and_auth_whose_password_shows_nowhere() {
    let cert = TestCertificate::self_signed();
    let login = Some(("alerts", PASSWORD));
    let starttls = SmtpRelay::start(SmtpSecurity::StartTls(&cert), login);
    let implicit = SmtpRelay::start(SmtpSecurity::ImplicitTls(&cert), login);
    let untrusted = SmtpRelay::start(SmtpSecurity::StartTls(&cert), login);
    let ca = format!(r#"ca_file = "{}""#, cert.cert().display());
    let auth = format!(
        r#"secrets = {{ smtp = {{ auth = {{ user = "alerts", pass = "{PASSWORD}" }} }} }}"#
    );
    let dir = HostDir::new().shipped(&["email"]).config(
        250,
        &format!(
            "{PLUGIN}{RULE}{}{}{}",
            channel(
                "starttls",
                &starttls,
                &format!(r#"tls = "starttls", {ca}"#),
                &auth
            ),
            channel(
                "implicit",
                &implicit,
                &format!(r#"tls = "tls", {ca}"#),
                &auth
            ),
            channel("untrusted", &untrusted, r#"tls = "starttls""#, &auth),
        ),
    );
    let mut host = dir.start();
    raise(&host, 50.0);
    for relay in [&starttls, &implicit] {
        let m = mail(&mut host, relay, "[FIRING:1]").parsed;
        assert_eq!(m["tls"], true, "{m}");
        assert_eq!(m["login"], "alerts", "{m}");
        assert_eq!(m["subject"], "[e2e] [FIRING:1] CRITICAL rule:queue", "{m}");
        assert!(
            m["html"].as_str().is_some_and(|h| h.contains("rule:queue")),
            "{m}"
        );
    }

    // Without ca_file the relay's own certificate is not trusted.
    let addr = host.addr;
    let refused = wait_for(
        "the untrusted relay's failed delivery",
        WAIT,
        || host.log().join("\n"),
        || {
            let answer = get(addr, "/api/v1/deliveries?channel=untrusted").json();
            answer["deliveries"]
                .as_array()?
                .iter()
                .find(|d| d["status"] != "delivered")
                .cloned()
        },
    );
    let error = refused["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(error.contains("certificate"), "{refused}");
    assert!(untrusted.messages().is_empty());

    // The password is in no log line, no API answer, no error.
    let mut shown = host.log().join("\n");
    for path in [
        "/api/v1/deliveries?limit=1000",
        "/api/v1/plugins",
        "/api/v1/config",
    ] {
        let answer = get(host.addr, path);
        shown.push_str(&answer.body);
    }
    assert!(
        !shown.contains(PASSWORD),
        "the SMTP password leaked:\n{shown}"
    );
}

#[test]
fn plain_smtp_to_a_relay_off_loopback_is_refused_unless_allowed() {
    let write = |allow: &str| {
        let dir = HostDir::new().shipped(&["email"]).config(
            250,
            &format!(
                r#"{PLUGIN}
[[alerting.channels]]
type = "email"
config = {{ recipient = "ops@example.com", smtp = {{ host = "192.0.2.25", port = 25, tls = "none"{allow} }} }}
secrets = {{ smtp = {{ auth = {{ user = "alerts", pass = "{PASSWORD}" }} }} }}
"#
            ),
        );
        let out = run_cli([
            OsStr::new("config"),
            OsStr::new("check"),
            dir.config_file().as_os_str(),
        ]);
        (dir, out)
    };
    let (dir, refused) = write("");
    assert!(!refused.success, "{}", refused.text());
    let text = refused.text();
    assert!(
        text.contains(
            "channel email cannot deliver: config.smtp.tls = \"none\" would send mail and the relay \
             password in clear text to 192.0.2.25, which is not on loopback"
        ) && text.contains("smtp.allow_insecure = true"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");

    // At start the channel is refused the same way, and the host says so.
    let mut host = dir.start();
    wait_for("the refusal in the log", WAIT, String::new, || {
        host.log()
            .iter()
            .any(|l| l.contains("channel email cannot deliver: config.smtp.tls = \"none\""))
            .then_some(())
    });
    let config: Value = get(host.addr, "/api/v1/config").json();
    assert!(!config.to_string().contains(PASSWORD), "{config}");

    let (_dir, allowed) = write(", allow_insecure = true");
    assert!(allowed.success, "{}", allowed.text());
}
