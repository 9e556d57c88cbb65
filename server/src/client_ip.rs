//! Who is at the other end of a request, resolved once per request for the audit log and the
//! sign-in throttle. `X-Forwarded-For` is believed only when the socket peer is a proxy we
//! were told to trust (`--trusted-proxies`); anyone else could write any address into it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::auth::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self(networks.into_iter().collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the socket peer, unless it is a trusted proxy; then the
    /// right-most address of `X-Forwarded-For` that is not a trusted proxy (the one the first
    /// trusted proxy saw), since everything left of it the client may have written itself.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// One `--trusted-proxies` entry: an address (`10.0.0.7`) or a network (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a network such as 10.0.0.0/8"))
}

/// Leaves the request's [`ClientIp`] in its extensions, for the handlers and the audit log.
pub async fn resolve(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let client = proxies.client(peer, request.headers());
        request.extensions_mut().insert(ClientIp(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let none = TrustedProxies::default();
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(
            none.client(ip("198.51.100.2"), &spoofed),
            ip("198.51.100.2")
        );

        let proxies = TrustedProxies::new([
            parse_proxy("10.0.0.0/8").unwrap(),
            parse_proxy("192.0.2.1").unwrap(),
        ]);
        assert_eq!(
            proxies.client(ip("198.51.100.2"), &spoofed),
            ip("198.51.100.2"),
            "an untrusted peer's header is ignored"
        );
        let chain = forwarded(&["1.1.1.1, 203.0.113.9", "192.0.2.1"]);
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &chain),
            ip("203.0.113.9"),
            "the right-most untrusted hop; what the client wrote on the left is not believed"
        );
        assert_eq!(
            proxies.client(ip("::ffff:10.1.2.3"), &forwarded(&["not-an-ip, 192.0.2.1"])),
            ip("192.0.2.1"),
            "a garbled hop stops the walk at the last proxy"
        );
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        assert!(parse_proxy("10.0.0.0/33").is_err());
        assert!(parse_proxy("proxy.local").is_err());
    }
}
