//! JSON paths such as `agents.list[*].responseMs`: parsing, and finding what they point at in a document.

use perfwatch_sdk::serde_json::Value;

/// One step from a JSON value to one of its children.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object member.
    Key(String),
    /// One array element, counted from 0.
    Index(usize),
    /// Every element of an array (`[*]`).
    Each,
}

/// A parsed path: dot-separated object keys, each optionally followed by
/// `[n]` indexes or a `[*]` wildcard, for example `agents.list[*].responseMs`
/// or `[0].value` (a document that is an array). Keys cannot contain `.`,
/// `[` or `]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

/// One value a path points at.
#[derive(Debug, PartialEq)]
pub(crate) struct Found<'a> {
    /// The value itself.
    pub(crate) value: &'a Value,
    /// Where it is, with wildcards replaced by indexes (`agents.list[2].responseMs`).
    pub(crate) location: String,
    /// For a path with `[*]`, the array element the value belongs to.
    pub(crate) element: Option<&'a Value>,
}

impl JsonPath {
    /// Parses `text`; the error says what is wrong and where.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("path is empty".to_owned());
        }
        let mut steps = Vec::new();
        for (number, segment) in text.split('.').enumerate() {
            let key_end = segment.find('[').unwrap_or(segment.len());
            let (key, mut indexes) = segment.split_at(key_end);
            if key.contains(']') {
                return Err(format!("path `{text}` has a `]` without a `[`"));
            }
            if !key.is_empty() {
                steps.push(Step::Key(key.to_owned()));
            } else if number > 0 || indexes.is_empty() {
                // Only the first segment may start with an index, for a
                // document that is an array.
                return Err(format!("path `{text}` has an empty key"));
            }
            while !indexes.is_empty() {
                if !indexes.starts_with('[') {
                    return Err(format!(
                        "path `{text}` has text after `]`; separate keys with `.`"
                    ));
                }
                let close = indexes
                    .find(']')
                    .ok_or_else(|| format!("path `{text}` has a `[` without a `]`"))?;
                let inside = &indexes[1..close];
                steps.push(match inside {
                    "*" => Step::Each,
                    _ => Step::Index(inside.parse().map_err(|_| {
                        format!("path `{text}` has `[{inside}]`; use `[<number>]` or `[*]`")
                    })?),
                });
                indexes = &indexes[close + 1..];
            }
        }
        Ok(Self { steps })
    }

    /// How many `[*]` wildcards the path has.
    pub(crate) fn wildcards(&self) -> usize {
        self.steps
            .iter()
            .filter(|step| **step == Step::Each)
            .count()
    }

    /// Every value the path points at in `root`, in document order.
    pub(crate) fn find<'a>(&self, root: &'a Value) -> Vec<Found<'a>> {
        let mut found = Vec::new();
        walk(&self.steps, root, String::new(), None, &mut found);
        found
    }

    /// The one value a wildcard-free path points at, if any.
    pub(crate) fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.find(root).into_iter().next().map(|found| found.value)
    }
}

fn walk<'a>(
    steps: &[Step],
    value: &'a Value,
    location: String,
    element: Option<&'a Value>,
    found: &mut Vec<Found<'a>>,
) {
    let Some((step, rest)) = steps.split_first() else {
        found.push(Found {
            value,
            location,
            element,
        });
        return;
    };
    match step {
        Step::Key(key) => {
            if let Some(child) = value.as_object().and_then(|object| object.get(key)) {
                let location = if location.is_empty() {
                    key.clone()
                } else {
                    format!("{location}.{key}")
                };
                walk(rest, child, location, element, found);
            }
        }
        Step::Index(index) => {
            if let Some(child) = value.as_array().and_then(|array| array.get(*index)) {
                walk(rest, child, format!("{location}[{index}]"), element, found);
            }
        }
        Step::Each => {
            for (index, child) in value.as_array().into_iter().flatten().enumerate() {
                walk(
                    rest,
                    child,
                    format!("{location}[{index}]"),
                    Some(child),
                    found,
                );
            }
        }
    }
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

    #[test]
    fn keys_indexes_and_wildcards() {
        let document = json!({
            "agents": {
                "total": 3,
                "list": [
                    {"name": "coder-1", "responseMs": 120.5},
                    {"name": "coder-2"},
                    {"name": "reviewer", "responseMs": 80}
                ]
            },
            "matrix": [[1, 2], [3, 4]]
        });
        assert_eq!(locations("agents.total", &document), ["agents.total = 3"]);
        assert_eq!(
            locations("agents.list[1].name", &document),
            [r#"agents.list[1].name = "coder-2""#]
        );
        assert_eq!(
            locations("agents.list[*].responseMs", &document),
            [
                "agents.list[0].responseMs = 120.5",
                "agents.list[2].responseMs = 80"
            ]
        );
        assert_eq!(locations("matrix[1][0]", &document), ["matrix[1][0] = 3"]);
        assert_eq!(
            locations("matrix[*][1]", &document),
            ["matrix[0][1] = 2", "matrix[1][1] = 4"]
        );
        assert_eq!(locations("agents.missing", &document), Vec::<String>::new());
        assert_eq!(locations("agents.list[9]", &document), Vec::<String>::new());
        assert_eq!(
            locations("agents.total[*]", &document),
            Vec::<String>::new()
        );
    }

    #[test]
    fn document_that_is_an_array() {
        let document = json!([{"up": true}, {"up": false}]);
        assert_eq!(locations("[0].up", &document), ["[0].up = true"]);
        assert_eq!(
            locations("[*].up", &document),
            ["[0].up = true", "[1].up = false"]
        );
    }

    #[test]
    fn wildcard_matches_know_their_element() {
        let document = json!({"list": [{"name": "a", "v": 1}]});
        let path = JsonPath::parse("list[*].v").unwrap();
        let found = path.find(&document);
        assert_eq!(found[0].element, Some(&json!({"name": "a", "v": 1})));
        assert_eq!(path.wildcards(), 1);
        assert_eq!(
            JsonPath::parse("list[0].v").unwrap().find(&document)[0].element,
            None
        );
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
            ("a[x]", "path `a[x]` has `[x]`; use `[<number>]` or `[*]`"),
            (
                "a[-1]",
                "path `a[-1]` has `[-1]`; use `[<number>]` or `[*]`",
            ),
            (
                "a[0]b",
                "path `a[0]b` has text after `]`; separate keys with `.`",
            ),
        ];
        for (path, error) in cases {
            assert_eq!(JsonPath::parse(path), Err(error.to_owned()), "{path}");
        }
    }
}
