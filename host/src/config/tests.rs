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
    assert_eq!(c.alerting.channels[0].kind, "console");
    assert_eq!(c.alerting.channels[0].name, "console");
}

#[test]
fn the_example_config_parses() {
    let text = include_str!("../../../perfwatch.example.toml");
    let c = check(text).unwrap();
    assert_eq!(c.alerting.channels.len(), 6);
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
fn a_channel_type_is_a_plugin_name_and_its_config_is_the_plugins() {
    // Any plugin name is a type; what its config holds is for the plugin's
    // validate-config to judge, not the host's.
    let c = check(
        "[[alerting.channels]]\ntype = \"pagerduty\"\nconfig = { routing_key = \"k\", anything = [1, 2] }",
    )
    .unwrap();
    assert_eq!(c.alerting.channels[0].name, "pagerduty");
    assert_eq!(c.alerting.channels[0].kind, "pagerduty");
    let err = check("[[alerting.channels]]\ntype = \"../evil\"").unwrap_err();
    assert!(err.contains("alerting.channels[0].type"), "{err}");
}

#[test]
fn channel_names_default_to_the_type_and_must_be_unique() {
    let two =
        "[[alerting.channels]]\ntype = \"webhook\"\n[[alerting.channels]]\ntype = \"webhook\"\n";
    let err = check(two).unwrap_err();
    assert!(
        err.contains("alerting.channels[1]") && err.contains("`webhook`") && err.contains("name"),
        "{err}"
    );
    let named = format!("{two}name = \"ops-hook\"\n");
    let c = check(&named).unwrap();
    let names: Vec<&str> = c
        .alerting
        .channels
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["webhook", "ops-hook"]);
    let err = check("[[alerting.channels]]\ntype = \"webhook\"\nname = \"a b\"").unwrap_err();
    assert!(err.contains("alerting.channels[0].name"), "{err}");
}

#[test]
fn channel_secrets_are_merged_into_the_plugin_config_and_never_shown() {
    let c = check(
        "[[alerting.channels]]\ntype = \"webhook\"\n\
         config = { url = \"http://127.0.0.1:9/x\", headers = { Accept = \"text/plain\" } }\n\
         secrets = { url = \"https://hooks.example.com/T0K3N\", headers = { Authorization = \"Bearer T0K3N\" } }\n",
    )
    .unwrap();
    let channel = &c.alerting.channels[0];
    assert_eq!(
        channel.plugin_config(),
        serde_json::json!({
            "url": "https://hooks.example.com/T0K3N",
            "headers": {"Accept": "text/plain", "Authorization": "Bearer T0K3N"}
        })
    );
    assert_eq!(
        channel.receiver_urls(),
        ["http://127.0.0.1:9/x", "https://hooks.example.com/T0K3N"]
    );
    let json = c.redacted_json().to_string();
    assert!(
        !json.contains("T0K3N") && !json.contains("127.0.0.1:9"),
        "{json}"
    );
    assert!(
        json.contains("Authorization"),
        "key names stay visible: {json}"
    );
}

#[test]
fn channel_filters_take_label_matchers() {
    let c = check(
        "[[alerting.channels]]\ntype = \"console\"\nfilters = { labels = [\"agent=coder-1\", \"env!=dev\"] }",
    )
    .unwrap();
    let filters = &c.alerting.channels[0].filters;
    assert_eq!(filters.labels.len(), 2);
    assert_eq!(filters.labels[1].to_string(), "env!=dev");
    let err =
        check("[[alerting.channels]]\ntype = \"console\"\nfilters = { labels = [\"agent\"] }")
            .unwrap_err();
    assert!(err.contains("label matcher"), "{err}");
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

#[test]
fn tokens_are_subprotocol_characters_and_errors_do_not_show_them() {
    for bad in ["has space", "semi;colon", "", "quote\"d", "naïve"] {
        let text = format!("[server]\nread_tokens = [\"ok\", {bad:?}]\n");
        let err = check(&text).unwrap_err();
        assert!(err.contains("server.read_tokens[1]"), "{err}");
        assert!(bad.is_empty() || !err.contains(bad), "{err}");
    }
    let err = Config::parse("", "test.toml", Some("bad token".into())).unwrap_err();
    assert!(err.to_string().contains(AUTH_TOKEN_ENV), "{err}");
    assert!(!err.to_string().contains("bad token"), "{err}");
    check("[server]\nauth_token = \"aZ09._~+/=-\"\n").unwrap();
}

#[test]
fn a_token_has_one_role() {
    let c = check("[server]\nauth_token = \"a\"\nadmin_tokens = [\"b\"]\nread_tokens = [\"c\"]\n")
        .unwrap();
    assert_eq!(c.server.role_of("a"), Some(Role::Admin));
    assert_eq!(c.server.role_of("b"), Some(Role::Admin));
    assert_eq!(c.server.role_of("c"), Some(Role::Read));
    assert_eq!(c.server.role_of("d"), None);
    assert_eq!(c.server.role_of(""), None);
    let err = check("[server]\nadmin_tokens = [\"b\"]\nread_tokens = [\"b\"]\n").unwrap_err();
    assert!(
        err.contains("read_tokens[0]") && err.contains("admin"),
        "{err}"
    );
}

#[test]
fn the_environment_token_replaces_the_files() {
    let c = Config::parse(
        "[server]\nauth_token = \"from-file\"\n",
        "test.toml",
        Some("from-env".into()),
    )
    .unwrap();
    assert_eq!(c.server.role_of("from-env"), Some(Role::Admin));
    assert_eq!(c.server.role_of("from-file"), None);
}

#[test]
fn a_non_loopback_bind_needs_a_token_or_an_explicit_opt_out() {
    let err = check("bind = \"0.0.0.0\"").unwrap_err();
    for needed in [
        "server",
        "auth_token",
        AUTH_TOKEN_ENV,
        "allow_unauthenticated",
    ] {
        assert!(err.contains(needed), "{err}");
    }
    check("bind = \"0.0.0.0\"\n[server]\nread_tokens = [\"r\"]\n").unwrap();
    check("bind = \"::\"\n[server]\nallow_unauthenticated = true\n").unwrap();
    Config::parse("bind = \"0.0.0.0\"", "test.toml", Some("t".into())).unwrap();
    check("bind = \"::1\"").unwrap();
}

#[test]
fn tls_needs_both_files_and_origins_are_checked() {
    let err = check("[server]\ntls_cert = \"cert.pem\"\n").unwrap_err();
    assert!(err.contains("tls_key"), "{err}");
    let err = check("[server]\nallowed_origins = [\"dash.example.com\"]\n").unwrap_err();
    assert!(err.contains("server.allowed_origins[0]"), "{err}");
    let err = check("[server]\nmax_ws_clients = 0\n").unwrap_err();
    assert!(err.contains("max_ws_clients"), "{err}");
}
