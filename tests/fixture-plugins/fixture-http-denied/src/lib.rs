//! Test fixture: a collector that requests a URL its config does not grant, so host tests can check the request is denied and the denial text reaches the host log.

use perfwatch_sdk::{Collection, Collector, export_collector, http};

/// The discard port on loopback: nothing should answer, and the host must
/// refuse before trying, since no test grants it in `allow_http`.
const URL: &str = "http://127.0.0.1:9/";

struct HttpDenied;

impl Collector for HttpDenied {
    fn collect() -> Result<Collection, String> {
        match http::get(URL) {
            // The error's Display text is what the host should report,
            // for example "denied: http://127.0.0.1:9 is not in allow_http".
            Err(error) => Err(format!("{error}")),
            // Reaching the network at all means the grant check failed; say
            // so in the error rather than report a sample a test might
            // mistake for success.
            Ok(response) => Err(format!(
                "fixture-http-denied: GET {URL} was not denied (HTTP {})",
                response.status
            )),
        }
    }
}

export_collector!(HttpDenied);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_the_error_text_is_returned() {
        assert_eq!(
            HttpDenied::collect(),
            Err(
                "http requests only work inside the perfwatch host, not in a native build"
                    .to_owned()
            )
        );
    }
}
