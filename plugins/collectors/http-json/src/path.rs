//! JSON paths, RFC 9535 JSONPath (`$.agents.list[*].responseMs`, `$['key.with.dots']`) or the older dotted form (`agents.list[*].responseMs`): parsing, and finding what they point at in a document.

use std::fmt::Write as _;

use perfwatch_sdk::serde_json::Value;

/// A path the config gave that cannot be used; the message names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PathError {
    #[error("path is empty")]
    Empty,
    /// The dotted form, malformed.
    #[error("path `{path}` {problem}")]
    Dotted { path: String, problem: String },
    /// Starts like JSONPath but is not valid RFC 9535 JSONPath.
    #[error(
        "path `{path}` is not valid JSONPath: {message} (for example `$.agents.list[*].responseMs`, or `$['key.with.dots']` for a key containing `.` or `[`)"
    )]
    JsonPath { path: String, message: String },
}

/// A parsed path.
///
/// Text that is `$` or starts with `$.`, `$[` or `$` and a space is
/// JSONPath. Anything else is the dotted form: object keys separated by
/// `.`, each optionally followed by `[n]` or `[*]` (`[0].value` for a
/// document that is an array). It is read exactly as it always was, by
/// translating it to bracket notation, so its keys may contain characters
/// that JSONPath's `.name` shorthand refuses (`responses.2xx`,
/// `queue-depth`), but not `.`, `[` or `]`.
#[derive(Debug, Clone)]
pub(crate) struct JsonPath {
    query: serde_json_path::JsonPath,
    /// How many segments may select more than one value (`[*]`, `.*`,
    /// `..`, a slice, a filter or a list of selectors).
    wildcards: usize,
    /// For a path with exactly one such segment: the query up to and
    /// including it, which selects the elements, and the rest, which is
    /// applied to each element. Kept apart so each value knows its element.
    split: Option<(serde_json_path::JsonPath, serde_json_path::JsonPath)>,
}

/// One value a path points at.
#[derive(Debug, PartialEq)]
pub(crate) struct Found<'a> {
    /// The value itself.
    pub(crate) value: &'a Value,
    /// Where it is, as an RFC 9535 normalized path (`$['agents']['list'][2]['responseMs']`).
    pub(crate) location: String,
    /// For a path with a wildcard, the element the value belongs to.
    pub(crate) element: Option<&'a Value>,
}

impl JsonPath {
    /// Parses `text`; the error says what is wrong and where.
    pub(crate) fn parse(text: &str) -> Result<Self, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let query_text = if is_json_path(text) {
            text.to_owned()
        } else {
            dotted_to_json_path(text)?
        };
        let invalid = |message: String| PathError::JsonPath {
            path: text.to_owned(),
            message,
        };
        let query = serde_json_path::JsonPath::parse(&query_text)
            .map_err(|err| invalid(err.to_string()))?;
        let segments = segments(&query_text);
        let wildcards = segments.iter().filter(|segment| segment.many).count();
        let split = if wildcards == 1 {
            let cut = segments
                .iter()
                .position(|segment| segment.many)
                .expect("one segment selects many")
                + 1;
            let join = |part: &[Segment]| {
                let text: String = part.iter().map(|segment| segment.text).collect();
                serde_json_path::JsonPath::parse(&format!("${text}"))
                    .map_err(|err| invalid(err.to_string()))
            };
            Some((join(&segments[..cut])?, join(&segments[cut..])?))
        } else {
            None
        };
        Ok(Self {
            query,
            wildcards,
            split,
        })
    }

    /// How many segments may select more than one value.
    pub(crate) fn wildcards(&self) -> usize {
        self.wildcards
    }

    /// Every value the path points at in `root`, in document order.
    pub(crate) fn find<'a>(&self, root: &'a Value) -> Vec<Found<'a>> {
        let Some((elements, rest)) = &self.split else {
            return self
                .query
                .query_located(root)
                .into_iter()
                .map(|node| {
                    let mut location = "$".to_owned();
                    push_location(&mut location, node.location());
                    Found {
                        value: node.node(),
                        location,
                        element: None,
                    }
                })
                .collect();
        };
        let mut found = Vec::new();
        for element in elements.query_located(root) {
            let mut base = "$".to_owned();
            push_location(&mut base, element.location());
            for node in rest.query_located(element.node()) {
                let mut location = base.clone();
                push_location(&mut location, node.location());
                found.push(Found {
                    value: node.node(),
                    location,
                    element: Some(element.node()),
                });
            }
        }
        found
    }

    /// The first value the path points at, if any (the only one for a
    /// wildcard-free path).
    pub(crate) fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.query.query(root).first()
    }
}

/// Appends `path` without its `$` to `out` in RFC 9535 normalized form,
/// names quoted and escaped (the crate's own `Display` leaves `'` and `\`
/// in names unescaped, which makes such a location ambiguous).
fn push_location(out: &mut String, path: &serde_json_path::NormalizedPath<'_>) {
    for element in path.iter() {
        match element {
            serde_json_path::PathElement::Name(name) => push_name(out, name),
            serde_json_path::PathElement::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

/// Appends `['name']`, escaped as RFC 9535 requires inside single quotes.
fn push_name(out: &mut String, name: &str) {
    out.push_str("['");
    for c in name.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push_str("']");
}

/// Whether `text` is meant as JSONPath rather than the dotted form, where
/// `$price` was (and stays) an ordinary key.
fn is_json_path(text: &str) -> bool {
    text.strip_prefix('$')
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[', ' ', '\t', '\n', '\r']))
}

/// One segment of a valid JSONPath query as written, and whether it may
/// select more than one value.
struct Segment<'t> {
    text: &'t str,
    many: bool,
}

/// The segments after the leading `$` of `query`, which must already have
/// parsed as JSONPath.
fn segments(query: &str) -> Vec<Segment<'_>> {
    let bytes = query.as_bytes();
    let mut segments = Vec::new();
    let mut start = 1;
    while start < bytes.len() {
        let mut end = start;
        while end < bytes.len() && bytes[end].is_ascii_whitespace() {
            end += 1;
        }
        let descendant = query[end..].starts_with("..");
        if descendant {
            end += 2;
        } else if bytes.get(end) == Some(&b'.') {
            end += 1;
        }
        let many = if bytes.get(end) == Some(&b'[') {
            let close = closing_bracket(query, end);
            let selectors = query[end + 1..close].trim();
            end = close + 1;
            descendant || !is_single_selector(selectors)
        } else {
            // `.name`, `.*`, `..name` or `..*`: the name runs to the next
            // segment or blank.
            let name_start = end;
            while end < bytes.len()
                && !matches!(bytes[end], b'.' | b'[' | b' ' | b'\t' | b'\n' | b'\r')
            {
                end += 1;
            }
            descendant || &query[name_start..end] == "*"
        };
        segments.push(Segment {
            text: &query[start..end],
            many,
        });
        start = end;
    }
    segments
}

/// The index of the `]` that closes the `[` at `open`, skipping brackets
/// inside quoted names and nested filter queries.
fn closing_bracket(query: &str, open: usize) -> usize {
    let mut depth = 0;
    let mut quote = None;
    let mut escaped = false;
    for (index, byte) in query.bytes().enumerate().skip(open) {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if byte == b'\\' => escaped = true,
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None => match byte {
                b'\'' | b'"' => quote = Some(byte),
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return index;
                    }
                }
                _ => {}
            },
        }
    }
    query.len() - 1
}

/// Whether a bracket's selectors pick at most one value: one quoted name
/// or one index.
fn is_single_selector(selectors: &str) -> bool {
    let index = selectors.strip_prefix('-').unwrap_or(selectors);
    if !index.is_empty() && index.bytes().all(|byte| byte.is_ascii_digit()) {
        return true;
    }
    let Some(quote) = selectors
        .bytes()
        .next()
        .filter(|q| matches!(q, b'\'' | b'"'))
    else {
        return false;
    };
    // One name: its closing quote is the last character.
    let mut escaped = false;
    for (index, byte) in selectors.bytes().enumerate().skip(1) {
        if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == quote {
            return index == selectors.len() - 1;
        }
    }
    false
}

/// One step of a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object member.
    Key(String),
    /// One array element, counted from 0.
    Index(usize),
    /// Every element of an array (`[*]`).
    Each,
}

/// The JSONPath that means what the dotted path `text` always meant, in
/// bracket notation so any key survives.
fn dotted_to_json_path(text: &str) -> Result<String, PathError> {
    let dotted = |problem: String| PathError::Dotted {
        path: text.to_owned(),
        problem,
    };
    if text.contains("['") || text.contains("[\"") {
        let separator = if text.starts_with('[') { "" } else { "." };
        return Err(dotted(format!(
            "quotes a key in brackets, which only JSONPath does: start it with `$`, as in `${separator}{text}`"
        )));
    }
    let mut query = "$".to_owned();
    for step in dotted_steps(text).map_err(dotted)? {
        match step {
            Step::Key(key) => push_name(&mut query, &key),
            Step::Index(index) => {
                let _ = write!(query, "[{index}]");
            }
            Step::Each => query.push_str("[*]"),
        }
    }
    Ok(query)
}

/// The steps of a dotted path, or what is wrong with it.
fn dotted_steps(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (number, segment) in text.split('.').enumerate() {
        let key_end = segment.find('[').unwrap_or(segment.len());
        let (key, mut indexes) = segment.split_at(key_end);
        if key.contains(']') {
            return Err("has a `]` without a `[`".to_owned());
        }
        if !key.is_empty() {
            steps.push(Step::Key(key.to_owned()));
        } else if number > 0 || indexes.is_empty() {
            // Only the first segment may start with an index, for a
            // document that is an array.
            return Err("has an empty key".to_owned());
        }
        while !indexes.is_empty() {
            if !indexes.starts_with('[') {
                return Err("has text after `]`; separate keys with `.`".to_owned());
            }
            let close = indexes
                .find(']')
                .ok_or_else(|| "has a `[` without a `]`".to_owned())?;
            let inside = &indexes[1..close];
            steps.push(match inside {
                "*" => Step::Each,
                _ => Step::Index(inside.parse().map_err(|_| {
                    format!(
                        "has `[{inside}]`; use `[<number>]` or `[*]`, or JSONPath such as `$['key.with.dots']`"
                    )
                })?),
            });
            indexes = &indexes[close + 1..];
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfwatch_sdk::serde_json::json;

    fn locations(path: &str, document: &Value) -> Vec<String> {
        JsonPath::parse(path)
            .unwrap()
            .find(document)
            .into_iter()
            .map(|found| format!("{} = {}", found.location, found.value))
            .collect()
    }

    fn document() -> Value {
        json!({
            "agents": {
                "total": 3,
                "list": [
                    {"name": "coder-1", "responseMs": 120.5},
                    {"name": "coder-2"},
                    {"name": "reviewer", "responseMs": 80}
                ]
            },
            "matrix": [[1, 2], [3, 4]],
            "responses": {"2xx": 10, "queue-depth": 4}
        })
    }

    #[test]
    fn keys_indexes_and_wildcards() {
        let document = document();
        assert_eq!(
            locations("agents.total", &document),
            ["$['agents']['total'] = 3"]
        );
        assert_eq!(
            locations("agents.list[1].name", &document),
            [r#"$['agents']['list'][1]['name'] = "coder-2""#]
        );
        assert_eq!(
            locations("agents.list[*].responseMs", &document),
            [
                "$['agents']['list'][0]['responseMs'] = 120.5",
                "$['agents']['list'][2]['responseMs'] = 80"
            ]
        );
        assert_eq!(
            locations("matrix[1][0]", &document),
            ["$['matrix'][1][0] = 3"]
        );
        assert_eq!(
            locations("matrix[*][1]", &document),
            ["$['matrix'][0][1] = 2", "$['matrix'][1][1] = 4"]
        );
        assert_eq!(locations("agents.missing", &document), Vec::<String>::new());
        assert_eq!(locations("agents.list[9]", &document), Vec::<String>::new());
        assert_eq!(
            locations("agents.total[*]", &document),
            Vec::<String>::new()
        );
    }

    #[test]
    fn dotted_paths_mean_what_their_json_path_means() {
        let document = document();
        for dotted in [
            "agents.total",
            "agents.list[1].name",
            "agents.list[*].responseMs",
            "matrix[1][0]",
            "matrix[*][1]",
            "agents.missing",
            "agents.total[*]",
        ] {
            assert_eq!(
                locations(dotted, &document),
                locations(&format!("$.{dotted}"), &document),
                "{dotted}"
            );
        }
    }

    #[test]
    fn dotted_keys_that_json_path_shorthand_refuses_still_work() {
        let document = document();
        assert_eq!(
            locations("responses.2xx", &document),
            ["$['responses']['2xx'] = 10"]
        );
        assert_eq!(
            locations("responses.queue-depth", &document),
            ["$['responses']['queue-depth'] = 4"]
        );
        let document = json!({"$price": 3, "it's": {"a\\b": 1}});
        assert_eq!(locations("$price", &document), ["$['$price'] = 3"]);
        assert_eq!(
            locations(r"it's.a\b", &document),
            [r"$['it\'s']['a\\b'] = 1"]
        );
    }

    #[test]
    fn a_key_containing_a_dot_in_bracket_notation() {
        let document = json!({"a.b": {"c": 7}, "a": {"b": {"c": 1}}});
        assert_eq!(locations("$['a.b'].c", &document), ["$['a.b']['c'] = 7"]);
        assert_eq!(locations("$[\"a.b\"].c", &document), ["$['a.b']['c'] = 7"]);
        assert_eq!(locations("a.b.c", &document), ["$['a']['b']['c'] = 1"]);
    }

    #[test]
    fn a_key_containing_a_bracket_in_bracket_notation() {
        let document = json!({"queue[0]": 5, "queue": [9], "m[*]": {"x]": 2}});
        assert_eq!(locations("$['queue[0]']", &document), ["$['queue[0]'] = 5"]);
        assert_eq!(locations("queue[0]", &document), ["$['queue'][0] = 9"]);
        let path = JsonPath::parse("$['m[*]']['x]']").unwrap();
        assert_eq!(
            path.wildcards(),
            0,
            "brackets inside names select one value"
        );
        assert_eq!(path.find(&document)[0].value, &json!(2));
    }

    #[test]
    fn document_that_is_an_array() {
        let document = json!([{"up": true}, {"up": false}]);
        assert_eq!(locations("[0].up", &document), ["$[0]['up'] = true"]);
        assert_eq!(locations("$[0].up", &document), ["$[0]['up'] = true"]);
        assert_eq!(
            locations("[*].up", &document),
            ["$[0]['up'] = true", "$[1]['up'] = false"]
        );
    }

    #[test]
    fn wildcard_matches_know_their_element() {
        let document =
            json!({"list": [{"name": "a", "v": 1}, {"name": "b", "v": 2}], "map": {"x": {"v": 3}}});
        let path = JsonPath::parse("list[*].v").unwrap();
        let found = path.find(&document);
        assert_eq!(found[0].element, Some(&json!({"name": "a", "v": 1})));
        assert_eq!(path.wildcards(), 1);
        assert_eq!(
            JsonPath::parse("list[0].v").unwrap().find(&document)[0].element,
            None
        );
        // Any segment that selects many values has elements: object
        // wildcards, filters, slices.
        let found = JsonPath::parse("$.map.*.v").unwrap().find(&document);
        assert_eq!(found[0].location, "$['map']['x']['v']");
        assert_eq!(found[0].element, Some(&json!({"v": 3})));
        let found = JsonPath::parse("$.list[?@.v > 1].v")
            .unwrap()
            .find(&document);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, "$['list'][1]['v']");
        assert_eq!(found[0].element, Some(&json!({"name": "b", "v": 2})));
        assert_eq!(JsonPath::parse("$.list[0:1]").unwrap().wildcards(), 1);
    }

    #[test]
    fn segments_that_select_many_are_counted() {
        let cases = [
            ("$", 0),
            ("$.a['b'][0][-1][\"c]\"]", 0),
            ("$.a[*]", 1),
            ("$.a.*", 1),
            ("$..a", 1),
            ("$.a[0,1]", 1),
            ("$.a['x','y']", 1),
            ("$.a[?@.b[0] == ']'].c", 1),
            ("$.a[*].b[*]", 2),
            ("$ .a [*]", 1),
        ];
        for (path, wildcards) in cases {
            assert_eq!(
                JsonPath::parse(path).unwrap().wildcards(),
                wildcards,
                "{path}"
            );
        }
    }

    #[test]
    fn malformed_paths_say_why() {
        let cases = [
            ("", "path is empty"),
            ("a..b", "path `a..b` has an empty key"),
            ("a.[0]", "path `a.[0]` has an empty key"),
            (".a", "path `.a` has an empty key"),
            ("a[0", "path `a[0` has a `[` without a `]`"),
            ("a]", "path `a]` has a `]` without a `[`"),
            (
                "a['b.c']",
                "path `a['b.c']` quotes a key in brackets, which only JSONPath does: start it with `$`, as in `$.a['b.c']`",
            ),
            (
                "['a.b'].c",
                "path `['a.b'].c` quotes a key in brackets, which only JSONPath does: start it with `$`, as in `$['a.b'].c`",
            ),
            (
                "a[-1]",
                "path `a[-1]` has `[-1]`; use `[<number>]` or `[*]`, or JSONPath such as `$['key.with.dots']`",
            ),
            (
                "a[0]b",
                "path `a[0]b` has text after `]`; separate keys with `.`",
            ),
        ];
        for (path, error) in cases {
            assert_eq!(
                JsonPath::parse(path).unwrap_err().to_string(),
                error,
                "{path}"
            );
        }
        for path in ["$.a[", "$['a.b'", "$.a..", "$.a[?@.b ==]", "$.a b"] {
            let error = JsonPath::parse(path).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("path `{path}` is not valid JSONPath: ")),
                "{error}"
            );
        }
    }
}
