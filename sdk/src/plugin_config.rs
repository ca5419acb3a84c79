//! Typed access to the plugin's `config` table, and the error messages for a config that does not fit.

use serde::de::DeserializeOwned;

/// Reads the plugin's `config` table from the host and deserialises it into `T`.
///
/// The host sends the table as JSON (`{}` when none is configured), so `T`
/// should give every optional key a `#[serde(default)]` and reject typos with
/// `#[serde(deny_unknown_fields)]`. The error names the offending key, for
/// example ``invalid plugin config key `pressure`: invalid type: string "yes", expected a boolean``;
/// returning it from `collect` puts it in the host log.
///
/// Natively (in unit tests) there is no host and this parses `{}`; test a
/// config type with [`parse_config`] instead.
pub fn config<T: DeserializeOwned>() -> Result<T, String> {
    parse_config(&crate::host::config_json())
}

/// Deserialises a config table given as JSON text; what [`config`] does with
/// the host's JSON, exposed so plugins can test their config types natively.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| describe(err.inner(), &err.path().to_string()))?;
    // Trailing text after the table is a host bug, but still not a valid table.
    deserializer.end().map_err(|err| describe(&err, "."))?;
    Ok(value)
}

/// Turns a serde_json error at `path` (`.` for the table itself) into the
/// message a plugin returns.
fn describe(err: &serde_json::Error, path: &str) -> String {
    if err.is_syntax() || err.is_eof() || err.is_io() {
        // The host produced the JSON, so this is a host bug; the position is
        // the only clue worth keeping.
        return format!("plugin config from the host is not valid JSON: {err}");
    }
    // The user wrote TOML, not this JSON: a line and column in it would point
    // nowhere useful, so the message keeps only the key path and the problem.
    let message = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = message.strip_suffix(&position).unwrap_or(&message);
    if path == "." {
        format!("invalid plugin config: {message}")
    } else {
        format!("invalid plugin config key `{path}`: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Options {
        #[serde(default = "default_pressure")]
        pressure: bool,
        #[serde(default)]
        targets: Vec<Target>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Target {
        url: String,
    }

    fn default_pressure() -> bool {
        true
    }

    fn check(json: &str, expected: Result<Options, &str>) {
        assert_eq!(
            parse_config::<Options>(json),
            expected.map_err(String::from)
        );
    }

    #[test]
    fn empty_table_takes_defaults() {
        check(
            r#"{}"#,
            Ok(Options {
                pressure: true,
                targets: vec![],
            }),
        );
    }

    #[test]
    fn given_values_are_used() {
        check(
            r#"{"pressure": false, "targets": [{"url": "http://a"}]}"#,
            Ok(Options {
                pressure: false,
                targets: vec![Target {
                    url: "http://a".into(),
                }],
            }),
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        check(
            r#"{"pressure": "yes"}"#,
            Err(
                r#"invalid plugin config key `pressure`: invalid type: string "yes", expected a boolean"#,
            ),
        );
    }

    #[test]
    fn nested_error_names_the_full_path() {
        check(
            r#"{"targets": [{"url": "http://a"}, {"url": 3}]}"#,
            Err(
                "invalid plugin config key `targets[1].url`: invalid type: integer `3`, expected a string",
            ),
        );
    }

    #[test]
    fn unknown_key_is_named_with_the_expected_ones() {
        check(
            r#"{"presure": true}"#,
            Err(
                "invalid plugin config key `presure`: unknown field `presure`, expected `pressure` or `targets`",
            ),
        );
    }

    #[test]
    fn missing_required_key_is_named() {
        check(
            r#"{"targets": [{}]}"#,
            Err("invalid plugin config key `targets[0]`: missing field `url`"),
        );
    }

    #[test]
    fn malformed_json_blames_the_host() {
        check(
            r#"{"pressure": tru}"#,
            Err(
                "plugin config from the host is not valid JSON: expected ident at line 1 column 17",
            ),
        );
        check(
            r#"{} {}"#,
            Err(
                "plugin config from the host is not valid JSON: trailing characters at line 1 column 4",
            ),
        );
    }

    #[test]
    fn native_config_is_the_empty_table() {
        assert_eq!(
            config::<Options>(),
            Ok(Options {
                pressure: true,
                targets: vec![]
            })
        );
    }
}
