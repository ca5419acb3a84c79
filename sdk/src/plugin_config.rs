//! Typed access to the plugin's `config` table, its validation for the host (`config-api`), and the error for a config that does not fit.
//!
//! One path for both uses: [`validate_config`] (what the host asks before
//! it uses a config) and [`config`] (what a plugin reads at run time) go
//! through the same deserialisation, so a config the host was told is fine
//! is one the plugin can read.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::{ConfigError, ConfigInfo};

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
/// The error is the [`ConfigError`]'s sentence.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    deserialize(json).map_err(|err| err.to_string())
}

/// What a plugin's `validate_config` returns for config type `T`: the
/// config is accepted when it deserialises, and `secret_keys` are the keys
/// the host must redact wherever it shows the config, as dotted paths
/// (`url`, `smtp.auth.pass`), `*` standing for any one key (`headers.*`).
///
/// serde stops at the first problem, so the list holds one error: the key
/// as a dotted path (`targets[1].url`), what is wrong, and the accepted form
/// taken from serde's "expected …" (an unknown key lists the known ones).
///
/// ```
/// use perfwatch_sdk::serde::Deserialize;
/// use perfwatch_sdk::{ConfigError, ConfigInfo};
///
/// #[derive(Deserialize)]
/// #[serde(crate = "perfwatch_sdk::serde", deny_unknown_fields)]
/// struct Options {
///     url: String,
///     #[serde(default)]
///     timeout_ms: u32,
/// }
///
/// assert_eq!(
///     perfwatch_sdk::validate_config::<Options>(r#"{"url": "https://hooks.example.com/T0"}"#, &["url"]),
///     Ok(ConfigInfo::with_secret_keys(&["url"]))
/// );
/// assert_eq!(
///     perfwatch_sdk::validate_config::<Options>(r#"{"url": "x", "timeout_ms": -1}"#, &["url"]),
///     Err(vec![ConfigError::new(
///         "timeout_ms",
///         "invalid value: integer `-1`",
///         "an integer from 0 to 4294967295"
///     )])
/// );
/// ```
pub fn validate_config<T: DeserializeOwned>(
    json: &str,
    secret_keys: &[&str],
) -> Result<ConfigInfo, Vec<ConfigError>> {
    validate_config_with::<T>(json, secret_keys, |_| Vec::new())
}

/// [`validate_config`], then `check` on the deserialised value for what
/// serde cannot say (an empty list, two targets with one name); every error
/// `check` returns is reported.
pub fn validate_config_with<T: DeserializeOwned>(
    json: &str,
    secret_keys: &[&str],
    check: impl FnOnce(&T) -> Vec<ConfigError>,
) -> Result<ConfigInfo, Vec<ConfigError>> {
    let value: T = deserialize(json).map_err(|err| vec![err])?;
    let problems = check(&value);
    if problems.is_empty() {
        Ok(ConfigInfo::with_secret_keys(secret_keys))
    } else {
        Err(problems)
    }
}

impl ConfigInfo {
    /// Names `keys` as secrets (dotted paths, `*` for any one key).
    pub fn with_secret_keys(keys: &[&str]) -> Self {
        Self {
            secret_keys: keys.iter().map(|key| (*key).to_owned()).collect(),
        }
    }
}

/// No secret keys.
impl Default for ConfigInfo {
    fn default() -> Self {
        Self {
            secret_keys: Vec::new(),
        }
    }
}

impl ConfigError {
    /// One thing wrong with the config: the key's dotted path (`""` for the
    /// whole table), what is wrong, and the accepted form (`""` when there
    /// is nothing useful to say).
    pub fn new(
        key: impl Into<String>,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
            expected: expected.into(),
        }
    }
}

/// ``invalid plugin config key `targets[1].url`: invalid type: integer `3`, expected a string``:
/// the sentence a plugin returns from `collect` when its config does not fit.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "invalid plugin config: {}", self.problem)?;
        } else {
            write!(
                f,
                "invalid plugin config key `{}`: {}",
                self.key, self.problem
            )?;
        }
        if !self.expected.is_empty() {
            write!(f, ", expected {}", self.expected)?;
        }
        Ok(())
    }
}

/// Lets `?` turn a [`ConfigError`] into the `String` errors `collect` and
/// `begin` return.
impl From<ConfigError> for String {
    fn from(error: ConfigError) -> Self {
        error.to_string()
    }
}

/// Deserialises `json` into `T`, or says which key does not fit and how.
fn deserialize<T: DeserializeOwned>(json: &str) -> Result<T, ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| describe(err.inner(), &err.path().to_string()))?;
    // Trailing text after the table is a host bug, but still not a valid table.
    deserializer.end().map_err(|err| describe(&err, "."))?;
    Ok(value)
}

/// Turns a serde_json error at `path` (`.` for the table itself, as
/// serde_path_to_error writes it) into a [`ConfigError`].
fn describe(err: &serde_json::Error, path: &str) -> ConfigError {
    let key = if path == "." { "" } else { path };
    if err.is_syntax() || err.is_eof() || err.is_io() {
        // The host produced the JSON, so this is a host bug; the position is
        // the only clue worth keeping.
        return ConfigError::new(
            key,
            format!("the host sent config that is not valid JSON ({err})"),
            "a JSON object",
        );
    }
    // The user wrote TOML, not this JSON: a line and column in it would point
    // nowhere useful, so the message keeps only the key path and the problem.
    let message = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = message.strip_suffix(&position).unwrap_or(&message);
    split_message(key, message)
}

/// Splits serde's sentence into problem and expected form.
fn split_message(key: &str, message: &str) -> ConfigError {
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let key = if key.is_empty() {
            field.to_owned()
        } else {
            format!("{key}.{field}")
        };
        return ConfigError::new(key, "required key is missing", "");
    }
    if let Some(unknown) = message.strip_suffix(", there are no fields") {
        return ConfigError::new(key, unknown, "no keys at all: the table takes none");
    }
    // The expected part comes from serde's `Expected` impls, which never
    // contain the separator; the unexpected part may (a quoted string
    // value), so split at the last one.
    match message.rsplit_once(", expected ") {
        Some((problem, expected)) => ConfigError::new(key, problem, human_form(expected)),
        None => ConfigError::new(key, message, ""),
    }
}

/// serde's name for an accepted form, in the words of a TOML table's author.
fn human_form(expected: &str) -> String {
    let integer = |min: i128, max: i128| format!("an integer from {min} to {max}");
    match expected {
        "u8" => integer(0, u8::MAX.into()),
        "u16" => integer(0, u16::MAX.into()),
        "u32" => integer(0, u32::MAX.into()),
        "u64" => integer(0, u64::MAX.into()),
        "i8" => integer(i8::MIN.into(), i8::MAX.into()),
        "i16" => integer(i16::MIN.into(), i16::MAX.into()),
        "i32" => integer(i32::MIN.into(), i32::MAX.into()),
        "i64" => integer(i64::MIN.into(), i64::MAX.into()),
        // Its range depends on the build target, so no bounds.
        "usize" => "a non-negative integer".to_owned(),
        "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a borrowed string" => "a string".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
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
        #[serde(default)]
        port: u16,
        #[serde(default)]
        ratio: f64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Target {
        url: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Empty {}

    fn default_pressure() -> bool {
        true
    }

    fn options(pressure: bool, targets: &[&str]) -> Options {
        Options {
            pressure,
            targets: targets
                .iter()
                .map(|url| Target { url: (*url).into() })
                .collect(),
            port: 0,
            ratio: 0.0,
        }
    }

    /// `json` as `T`: the structured error and the sentence built from it.
    fn check<T: DeserializeOwned + PartialEq + fmt::Debug>(
        json: &str,
        expected: Result<T, (&str, &str, &str, &str)>,
    ) {
        match expected {
            Ok(value) => {
                assert_eq!(deserialize::<T>(json), Ok(value));
                assert_eq!(
                    validate_config::<T>(json, &["a.*"]),
                    Ok(ConfigInfo::with_secret_keys(&["a.*"]))
                );
            }
            Err((key, problem, form, sentence)) => {
                let error = ConfigError::new(key, problem, form);
                assert_eq!(deserialize::<T>(json), Err(error.clone()), "{json}");
                assert_eq!(validate_config::<T>(json, &[]), Err(vec![error]), "{json}");
                assert_eq!(parse_config::<T>(json), Err(sentence.to_owned()), "{json}");
            }
        }
    }

    #[test]
    fn empty_table_takes_defaults() {
        check("{}", Ok(options(true, &[])));
    }

    #[test]
    fn given_values_are_used() {
        check(
            r#"{"pressure": false, "targets": [{"url": "http://a"}]}"#,
            Ok(options(false, &["http://a"])),
        );
    }

    #[test]
    fn wrong_type_names_the_key_and_the_accepted_form() {
        check::<Options>(
            r#"{"pressure": "yes"}"#,
            Err((
                "pressure",
                r#"invalid type: string "yes""#,
                "a boolean",
                r#"invalid plugin config key `pressure`: invalid type: string "yes", expected a boolean"#,
            )),
        );
        check::<Options>(
            r#"{"targets": {"url": "http://a"}}"#,
            Err((
                "targets",
                "invalid type: map",
                "an array",
                "invalid plugin config key `targets`: invalid type: map, expected an array",
            )),
        );
        check::<Options>(
            r#"{"ratio": "half"}"#,
            Err((
                "ratio",
                r#"invalid type: string "half""#,
                "a number",
                r#"invalid plugin config key `ratio`: invalid type: string "half", expected a number"#,
            )),
        );
    }

    #[test]
    fn out_of_range_integers_give_the_range() {
        check::<Options>(
            r#"{"port": 70000}"#,
            Err((
                "port",
                "invalid value: integer `70000`",
                "an integer from 0 to 65535",
                "invalid plugin config key `port`: invalid value: integer `70000`, expected an integer from 0 to 65535",
            )),
        );
    }

    #[test]
    fn a_string_value_holding_the_separator_is_kept_whole() {
        check::<Options>(
            r#"{"pressure": "no, expected yes"}"#,
            Err((
                "pressure",
                r#"invalid type: string "no, expected yes""#,
                "a boolean",
                r#"invalid plugin config key `pressure`: invalid type: string "no, expected yes", expected a boolean"#,
            )),
        );
    }

    #[test]
    fn nested_error_names_the_full_path() {
        check::<Options>(
            r#"{"targets": [{"url": "http://a"}, {"url": 3}]}"#,
            Err((
                "targets[1].url",
                "invalid type: integer `3`",
                "a string",
                "invalid plugin config key `targets[1].url`: invalid type: integer `3`, expected a string",
            )),
        );
    }

    #[test]
    fn unknown_key_is_named_with_the_known_ones() {
        check::<Options>(
            r#"{"presure": true}"#,
            Err((
                "presure",
                "unknown field `presure`",
                "one of `pressure`, `targets`, `port`, `ratio`",
                "invalid plugin config key `presure`: unknown field `presure`, expected one of `pressure`, `targets`, `port`, `ratio`",
            )),
        );
        check::<Empty>(
            r#"{"color": true}"#,
            Err((
                "color",
                "unknown field `color`",
                "no keys at all: the table takes none",
                "invalid plugin config key `color`: unknown field `color`, expected no keys at all: the table takes none",
            )),
        );
    }

    #[test]
    fn missing_required_key_is_named_by_its_own_path() {
        check::<Options>(
            r#"{"targets": [{}]}"#,
            Err((
                "targets[0].url",
                "required key is missing",
                "",
                "invalid plugin config key `targets[0].url`: required key is missing",
            )),
        );
        check::<Target>(
            "{}",
            Err((
                "url",
                "required key is missing",
                "",
                "invalid plugin config key `url`: required key is missing",
            )),
        );
    }

    #[test]
    fn a_table_that_is_not_a_table() {
        check::<Options>(
            "3",
            Err((
                "",
                "invalid type: integer `3`",
                "a table",
                "invalid plugin config: invalid type: integer `3`, expected a table",
            )),
        );
    }

    #[test]
    fn malformed_json_blames_the_host() {
        check::<Options>(
            r#"{"pressure": tru}"#,
            Err((
                "pressure",
                "the host sent config that is not valid JSON (expected ident at line 1 column 17)",
                "a JSON object",
                "invalid plugin config key `pressure`: the host sent config that is not valid JSON (expected ident at line 1 column 17), expected a JSON object",
            )),
        );
        check::<Options>(
            "{} {}",
            Err((
                "",
                "the host sent config that is not valid JSON (trailing characters at line 1 column 4)",
                "a JSON object",
                "invalid plugin config: the host sent config that is not valid JSON (trailing characters at line 1 column 4), expected a JSON object",
            )),
        );
    }

    #[test]
    fn checks_after_serde_report_every_problem() {
        let check = |options: &Options| {
            options
                .targets
                .iter()
                .enumerate()
                .filter(|(_, target)| !target.url.starts_with("http"))
                .map(|(i, _)| {
                    ConfigError::new(format!("targets[{i}].url"), "not a URL", "an http:// URL")
                })
                .collect()
        };
        assert_eq!(
            validate_config_with::<Options>(
                r#"{"targets": [{"url": "a"}, {"url": "http://b"}, {"url": "c"}]}"#,
                &[],
                check
            ),
            Err(vec![
                ConfigError::new("targets[0].url", "not a URL", "an http:// URL"),
                ConfigError::new("targets[2].url", "not a URL", "an http:// URL"),
            ])
        );
    }

    #[test]
    fn native_config_is_the_empty_table() {
        assert_eq!(config::<Options>(), Ok(options(true, &[])));
    }
}
