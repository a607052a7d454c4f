//! `http://` through `ignition.proxy.httpProxy` the way Go (and so Ignition) does it: a plain
//! request in absolute form (`GET http://host/path HTTP/1.1`) sent to the proxy, not a
//! `CONNECT` tunnel, which proxies commonly refuse for port 80 (squid's `SSL_ports` rule).
//!
//! ureq 3 only tunnels through HTTP proxies and always writes origin-form request targets, so
//! this agent resolves every server to the proxy's address and inserts `scheme://authority`
//! into the request line of each connection's one request (connections are not pooled, so a
//! connection never carries a second request).

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, TcpConnector, Transport,
};
use ureq::{Agent, Error};

/// An agent that sends every request to `proxy` in absolute form.
pub(crate) fn agent(config: Config, proxy: Uri) -> Agent {
    Agent::with_parts(
        config,
        ().chain(TcpConnector::default()).chain(AbsoluteForm),
        ToProxy(proxy),
    )
}

/// Resolves every server to the proxy, which resolves the real name itself.
#[derive(Debug)]
struct ToProxy(Uri);

impl Resolver for ToProxy {
    fn resolve(
        &self,
        _server: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        DefaultResolver::default().resolve(&self.0, config, timeout)
    }
}

/// Wraps the TCP connection to the proxy so that the request line names the whole URL.
#[derive(Debug)]
struct AbsoluteForm;

impl<In: Transport> Connector<In> for AbsoluteForm {
    type Out = AbsoluteFormTransport<In>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        let Some(inner) = chained else {
            return Ok(None);
        };
        let uri = details.uri;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(Error::BadUri(format!("{uri} has no scheme or host")));
        };
        Ok(Some(AbsoluteFormTransport {
            inner,
            origin: Some(format!("{scheme}://{authority}")),
        }))
    }
}

#[derive(Debug)]
struct AbsoluteFormTransport<In> {
    inner: In,
    /// `scheme://authority`, until the request line has been sent.
    origin: Option<String>,
}

impl<In: Transport> Transport for AbsoluteFormTransport<In> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let Some(origin) = self.origin.take() else {
            return self.inner.transmit_output(amount, timeout);
        };
        let rewritten = absolute_form(&self.inner.buffers().output()[..amount], &origin)?;
        // The rewritten bytes are longer than the buffer held: send them through the same
        // buffer, a buffer-full at a time.
        let room = self.inner.buffers().output().len().max(1);
        for chunk in rewritten.chunks(room) {
            self.inner.buffers().output()[..chunk.len()].copy_from_slice(chunk);
            self.inner.transmit_output(chunk.len(), timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }
}

/// `GET /p HTTP/1.1…` → `GET http://host:port/p HTTP/1.1…`.
fn absolute_form(request: &[u8], origin: &str) -> Result<Vec<u8>, Error> {
    let target = request
        .iter()
        .position(|&b| b == b' ')
        .map(|space| space + 1)
        .filter(|&at| request.get(at) == Some(&b'/'))
        .ok_or_else(|| {
            Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request line without an origin-form target",
            ))
        })?;
    let mut out = Vec::with_capacity(request.len() + origin.len());
    out.extend_from_slice(&request[..target]);
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&request[target..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_get_the_origin() {
        let rewritten = absolute_form(b"GET /a?b HTTP/1.1\r\nHost: h\r\n\r\n", "http://h:8080");
        assert_eq!(
            rewritten.ok().as_deref(),
            Some(&b"GET http://h:8080/a?b HTTP/1.1\r\nHost: h\r\n\r\n"[..])
        );
        assert!(absolute_form(b"CONNECT h:80 HTTP/1.1\r\n", "http://h").is_err());
        assert!(absolute_form(b"", "http://h").is_err());
    }
}
