//! Config parsing and validation, through `check(toml) -> Result`.

use super::*;

fn check(text: &str) -> Result<Config, String> {
    Config::from_toml_str(text, "test.toml").map_err(|e| e.to_string())
}

#[test]
fn the_default_file_is_the_built_in_defaults() {
    let from_file = check(DEFAULT_CONFIG_TOML).unwrap();
    let built_in = Config::defaults();
    assert_eq!(
        serde_json::to_value(&from_file).unwrap(),
        serde_json::to_value(&built_in).unwrap()
    );
}

#[test]
fn defaults_are_the_original_systems() {
    let c = Config::defaults();
    assert_eq!(c.listen_addr().to_string(), "127.0.0.1:8080");
    assert_eq!(c.update_interval.as_millis(), 5000);
    assert_eq!(c.retention_days, 30);
    assert_eq!(c.export_path, std::path::Path::new("./analysis-reports"));
    assert_eq!(c.thresholds.len(), 7);
    let frame_rate = c
        .thresholds
        .iter()
        .find(|t| t.metric == "ui.frameRate")
        .unwrap();
    assert_eq!(frame_rate.direction, Direction::Below);
    assert_eq!(c.alerting.channels[0].settings.kind(), ChannelType::Console);
}

#[test]
fn the_example_config_parses() {
    let text = include_str!("../../../perfwatch.example.toml");
    let c = check(text).unwrap();
    assert_eq!(c.alerting.channels.len(), 5);
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let err = check("prot = 8080").unwrap_err();
    assert!(err.contains("prot"), "{err}");
    let err = check("[[alerting.channels]]\ntype = \"console\"\nenabeld = true").unwrap_err();
    assert!(err.contains("enabeld"), "{err}");
}

#[test]
fn a_wrong_type_is_an_error_naming_the_key() {
    let err = check("port = \"eighty\"").unwrap_err();
    assert!(err.contains("port"), "{err}");
}

#[test]
fn invalid_values_are_errors_naming_the_key() {
    let err = check("update_interval = 50").unwrap_err();
    assert!(
        err.contains("update_interval") && err.contains("100"),
        "{err}"
    );
    let err = check("bind = \"localhost:80\"").unwrap_err();
    assert!(err.contains("bind"), "{err}");
    let err = check("[[thresholds]]\nmetric = \"ui.frameRate\"\nwarning = 30.0\ncritical = 15.0\n")
        .unwrap_err();
    assert!(
        err.contains("thresholds[0]") && err.contains("below"),
        "{err}"
    );
}

#[test]
fn channel_configs_are_checked_by_type() {
    let err = check("[[alerting.channels]]\ntype = \"webhook\"\nconfig = {}").unwrap_err();
    assert!(
        err.contains("alerting.channels[0].config") && err.contains("url"),
        "{err}"
    );
    let err = check("[[alerting.channels]]\ntype = \"pager\"").unwrap_err();
    assert!(err.contains("pager"), "{err}");
    let err =
        check("[[alerting.channels]]\ntype = \"slack\"\nconfig = { webhook_url = \"ftp://x\" }")
            .unwrap_err();
    assert!(err.contains("webhook_url"), "{err}");
    assert!(!err.contains("ftp://x"), "secrets are not echoed: {err}");
}

#[test]
fn secrets_are_redacted_from_the_json_view() {
    let text = include_str!("../../../perfwatch.example.toml");
    let json = check(text).unwrap().redacted_json().to_string();
    for secret in [
        "hooks.slack.com",
        "discord.com/api",
        "Bearer",
        "s3cret",
        "alert-bot",
    ] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
    assert!(json.contains(REDACTED));
}

#[test]
fn aliases_in_thresholds_are_canonical() {
    let c =
        check("[[thresholds]]\nmetric = \"websocket.latency\"\nwarning = 1.0\ncritical = 2.0\n")
            .unwrap();
    assert_eq!(c.thresholds[0].metric, "ui.webSocketLatency");
}

#[test]
fn the_original_five_alert_rules_are_the_defaults() {
    let c = Config::defaults();
    let ids: Vec<&str> = c.alert_rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cpu-high",
            "cpu-critical",
            "memory-high",
            "response-time-slow",
            "frame-rate-low"
        ]
    );
    let frame = &c.alert_rules[4];
    assert_eq!(frame.condition, RuleCondition::LessThan);
    assert_eq!((frame.duration, frame.cooldown), (20_000, 240_000));
}

#[test]
fn alert_rules_take_two_levels_and_hysteresis_and_refuse_contradictions() {
    let ok = check(
        "[[alert_rules]]\nid = \"queue\"\nmetric = \"app.queueDepth\"\ncondition = \"greater_than\"\n\
         warning = 100.0\ncritical = 500.0\nclear_threshold = 80.0\nkeep_firing_for = 30000\nrepeat_interval = 3600000\n",
    )
    .unwrap();
    let rule = &ok.alert_rules[0];
    assert_eq!(
        rule.levels(),
        [
            (crate::model::Severity::Critical, 500.0),
            (crate::model::Severity::Warning, 100.0)
        ]
    );
    for (text, needle) in [
        (
            "condition = \"greater_than\"\nthreshold = 1.0\nwarning = 2.0",
            "not both",
        ),
        ("condition = \"greater_than\"", "needs `threshold`"),
        (
            "condition = \"greater_than\"\nwarning = 5.0\ncritical = 1.0",
            "must not be above critical",
        ),
        (
            "condition = \"less_than\"\nthreshold = 30.0\nclear_threshold = 20.0",
            "must not be below",
        ),
        (
            "condition = \"equals\"\nwarning = 1.0",
            "take one `threshold`",
        ),
        ("condition = \"bigger\"\nthreshold = 1.0", "bigger"),
        (
            "condition = \"greater_than\"\nthreshold = 1.0\nrunbook_url = \"wiki/queue\"",
            "runbook_url",
        ),
    ] {
        let err = check(&format!(
            "[[alert_rules]]\nid = \"r\"\nmetric = \"a.b\"\n{text}\n"
        ))
        .unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn a_rule_may_name_its_runbook_and_older_rules_need_none() {
    let c = check(
        "[[alert_rules]]\nid = \"queue\"\nmetric = \"app.queueDepth\"\ncondition = \"greater_than\"\n\
         threshold = 1.0\nrunbook_url = \"https://wiki.example.com/queue\"\n",
    )
    .unwrap();
    assert_eq!(
        c.alert_rules[0].runbook_url.as_deref(),
        Some("https://wiki.example.com/queue")
    );
    assert!(
        Config::defaults()
            .alert_rules
            .iter()
            .all(|r| r.runbook_url.is_none())
    );
}

#[test]
fn external_url_is_optional_checked_and_defaults_to_the_address_served() {
    let served: std::net::SocketAddr = "127.0.0.1:43210".parse().unwrap();
    assert_eq!(
        Config::defaults().external_url_for(served),
        "http://127.0.0.1:43210"
    );
    let c = check("external_url = \"https://perfwatch.example.com/\"").unwrap();
    assert_eq!(
        c.external_url_for(served),
        "https://perfwatch.example.com",
        "without the trailing slash, so paths join cleanly"
    );
    let err = check("external_url = \"perfwatch.example.com\"").unwrap_err();
    assert!(err.contains("external_url"), "{err}");
}
