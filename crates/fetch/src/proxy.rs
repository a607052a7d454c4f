//! Which proxy serves a URL: `ignition.proxy` with Go's `httpproxy` rules (`httpsProxy` only
//! for https, loopback never proxied, `noProxy` entries as IPs, CIDRs, domains, `*`).

use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProxySettings {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    /// The proxy URL for a request to `host:port` over `scheme`, if any.
    pub fn proxy_for(&self, https: bool, host: &str, port: u16) -> Option<&str> {
        let proxy = if https { &self.https } else { &self.http };
        let proxy = proxy.as_deref().filter(|p| !p.is_empty())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        if host == "localhost" || host.parse::<IpAddr>().is_ok_and(is_loopback) {
            return None;
        }
        if self
            .no_proxy
            .iter()
            .any(|entry| bypasses(entry, host, port))
        {
            return None;
        }
        Some(proxy)
    }
}

/// Loopback as Go sees it: IPv4-mapped 127/8 addresses count too.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn bypasses(entry: &str, host: &str, port: u16) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    if entry.is_empty() {
        return false;
    }
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        return cidr_contains(net, bits, host);
    }
    if let Ok(ip) = entry
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return host.parse::<IpAddr>().is_ok_and(|h| h == ip);
    }
    let (name, entry_port) = match entry.rsplit_once(':') {
        Some((name, p)) => match p.parse::<u16>() {
            Ok(p) => (name.trim_start_matches('[').trim_end_matches(']'), Some(p)),
            Err(_) => return false,
        },
        None => (entry.as_str(), None),
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return host.parse::<IpAddr>().is_ok_and(|h| h == ip);
    }
    let name = name.trim_end_matches('.');
    // "*.example.com" means what ".example.com" does.
    let name = name.strip_prefix('*').unwrap_or(name);
    match name.strip_prefix('.') {
        // ".example.com": subdomains only.
        Some(_) => host.ends_with(name),
        // "example.com": the domain and its subdomains.
        None => host == name || host.ends_with(&format!(".{name}")),
    }
}

fn cidr_contains(net: &str, bits: &str, host: &str) -> bool {
    let (Ok(net), Ok(bits), Ok(ip)) = (
        net.parse::<IpAddr>(),
        bits.parse::<u32>(),
        host.parse::<IpAddr>(),
    ) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(no_proxy: &[&str]) -> ProxySettings {
        ProxySettings {
            http: Some("http://proxy:3128".into()),
            https: None,
            no_proxy: no_proxy.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn https_uses_only_https_proxy_and_loopback_is_direct() {
        let s = settings(&[]);
        assert_eq!(
            s.proxy_for(false, "example.com", 80),
            Some("http://proxy:3128")
        );
        assert_eq!(s.proxy_for(true, "example.com", 443), None);
        assert_eq!(s.proxy_for(false, "localhost", 80), None);
        assert_eq!(s.proxy_for(false, "127.0.0.5", 80), None);
        assert_eq!(s.proxy_for(false, "[::1]", 80), None);
        assert_eq!(s.proxy_for(false, "[::ffff:127.0.0.1]", 80), None);
    }

    #[test]
    fn no_proxy_entries_match_like_go() {
        let s = settings(&[
            "10.0.0.0/8",
            "192.0.2.7",
            "example.com",
            ".internal",
            "svc:8080",
        ]);
        assert_eq!(s.proxy_for(false, "10.1.2.3", 80), None);
        assert!(s.proxy_for(false, "11.1.2.3", 80).is_some());
        assert_eq!(s.proxy_for(false, "192.0.2.7", 80), None);
        assert_eq!(s.proxy_for(false, "example.com", 80), None);
        assert_eq!(s.proxy_for(false, "a.example.com", 80), None);
        assert!(s.proxy_for(false, "notexample.com", 80).is_some());
        assert!(s.proxy_for(false, "internal", 80).is_some());
        assert_eq!(s.proxy_for(false, "a.internal", 80), None);
        assert_eq!(s.proxy_for(false, "svc", 8080), None);
        assert!(s.proxy_for(false, "svc", 80).is_some());
        assert_eq!(settings(&["*"]).proxy_for(false, "anything", 80), None);
        assert_eq!(
            settings(&["*.wild.org"]).proxy_for(false, "a.wild.org", 80),
            None
        );
        assert_eq!(
            settings(&["fd00::/8"]).proxy_for(false, "[fd00::1]", 80),
            None
        );
    }
}
