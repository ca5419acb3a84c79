//! HTTPS and WSS clients that trust exactly one certificate: a host's own
//! self-signed one ([`crate::TestCertificate`]).

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;

use crate::HttpResponse;

fn client_config(cert: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).expect("a PEM certificate") {
        roots
            .add(cert.expect("a certificate"))
            .expect("a usable root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// One HTTPS request to `addr` (verified against `cert`, for `127.0.0.1`).
pub fn https_request(
    addr: SocketAddr,
    cert: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    let name = ServerName::IpAddress(addr.ip().into());
    let connection =
        rustls::ClientConnection::new(client_config(cert), name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let stream = rustls::StreamOwned::new(connection, tcp);
    crate::http::exchange(stream, addr, method, path, headers, b"")
}

/// A WSS connection to `wss://addr{path}` offering `protocols`.
pub async fn wss_connect(
    addr: SocketAddr,
    cert: &Path,
    path: &str,
    protocols: &str,
) -> Result<
    WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    tungstenite::Error,
> {
    use tungstenite::client::IntoClientRequest;
    let connector = tokio_rustls::TlsConnector::from(client_config(cert));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let tls = connector
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await?;
    let mut request = format!("wss://{addr}{path}").into_client_request()?;
    if !protocols.is_empty() {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    }
    let (socket, _) = tokio_tungstenite::client_async(request, tls).await?;
    Ok(socket)
}
