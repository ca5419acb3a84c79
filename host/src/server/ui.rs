//! The dashboard: the page at `/` and its files at `/assets/{file}`, from
//! `ui/`, embedded in the binary gzip-compressed by build.rs.
//!
//! Every answer carries its ETag and `no-cache`, so a browser revalidates
//! and gets a 304 with no body until the binary changes. The page runs
//! under a Content-Security-Policy that allows only this host: it needs no
//! other, and a script injected through data could not send it anywhere.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ingest::gunzip;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    /// Quoted, from the uncompressed content.
    pub etag: &'static str,
    /// Uncompressed length in bytes.
    pub size: usize,
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

const PAGE: &str = "index.html";

/// Only this host, for scripts, styles, the icon, fetches and the
/// WebSocket. No inline script or style attribute.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The icon, also where browsers look for one unasked.
const ICON: &str = "favicon.svg";

/// `GET /`: the page.
pub async fn page(headers: HeaderMap) -> Response {
    serve(PAGE, &headers)
}

/// `GET /favicon.ico`: browsers ask for it on any page of the host, JSON
/// answers included.
pub async fn icon(headers: HeaderMap) -> Response {
    serve(ICON, &headers)
}

/// `GET /assets/{file}`: a script, style sheet or icon of the page.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if file == PAGE {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&file, &headers)
}

/// The embedded file by name.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(asset) = find(name) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no dashboard file is named {name:?}"),
        )
            .into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name == PAGE {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    if request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|v| etag_matches(v, asset.etag))
    {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if accepts_gzip(request) {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (headers, asset.gzip).into_response();
    }
    // Clients that take no gzip (few but real: some scripts) get the file
    // as written; it was compressed by this build, so it decompresses.
    match gunzip(asset.gzip, asset.size) {
        Ok(plain) => (headers, plain).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Whether an `If-None-Match` value names `etag` (or is `*`).
fn etag_matches(value: &HeaderValue, etag: &str) -> bool {
    value.to_str().is_ok_and(|list| {
        list.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    })
}

/// Whether `Accept-Encoding` takes gzip (`gzip;q=0` refuses it).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|list| list.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's total weight on the wire, gzip-compressed.
    const MAX_PAGE_BYTES: usize = 150 * 1024;

    fn request(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn the_page_is_served_compressed_with_its_etag_and_policy() {
        let response = page(request(&[(header::ACCEPT_ENCODING, "gzip, deflate, br")])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("connect-src 'self'")
        );
        let html = gunzip(&body(response).await, 1 << 20).unwrap();
        assert!(
            String::from_utf8(html)
                .unwrap()
                .contains("<title>perfwatch</title>")
        );

        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let again = page(request(&[(header::IF_NONE_MATCH, &etag)])).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());
        let weak = page(request(&[(
            header::IF_NONE_MATCH,
            &format!("\"other\", W/{etag}"),
        )]))
        .await;
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn a_client_without_gzip_gets_the_file_as_written() {
        for accept in [None, Some("gzip;q=0, identity")] {
            let headers =
                accept.map_or_else(HeaderMap::new, |a| request(&[(header::ACCEPT_ENCODING, a)]));
            let response = asset(Path("main.js".to_owned()), headers).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
            let text = String::from_utf8(body(response).await).unwrap();
            assert!(text.contains("import"), "{accept:?}");
        }
    }

    #[tokio::test]
    async fn unknown_files_and_the_page_under_assets_are_not_found() {
        for name in ["nope.js", "index.html", "..%2Fbuild.rs"] {
            let response = asset(Path(name.to_owned()), HeaderMap::new()).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[test]
    fn the_page_references_only_files_the_binary_has() {
        let html = String::from_utf8(gunzip(find(PAGE).unwrap().gzip, 1 << 20).unwrap()).unwrap();
        let mut referenced = Vec::new();
        for attribute in ["src=\"", "href=\""] {
            for part in html.split(attribute).skip(1) {
                let target = part.split('"').next().unwrap();
                if let Some(name) = target.strip_prefix("/assets/") {
                    referenced.push(name.to_owned());
                } else {
                    panic!("the page refers to {target}, outside the host's assets");
                }
            }
        }
        for name in &referenced {
            assert!(
                find(name).is_some(),
                "index.html loads {name}, which is not embedded"
            );
        }
        // Module scripts import their siblings; those must be embedded too.
        for module in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") && !a.name.starts_with("uPlot"))
        {
            let text = String::from_utf8(gunzip(module.gzip, 1 << 20).unwrap()).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let target = line.split('"').nth(1).unwrap();
                let name = target.strip_prefix("./").unwrap_or(target);
                assert!(
                    find(name).is_some(),
                    "{} imports {target}, which is not embedded",
                    module.name
                );
            }
        }
    }

    #[test]
    fn the_whole_page_weighs_at_most_150_kb_compressed() {
        let total: usize = ASSETS.iter().map(|a| a.gzip.len()).sum();
        assert!(
            total <= MAX_PAGE_BYTES,
            "the page weighs {total} bytes gzipped"
        );
    }
}
