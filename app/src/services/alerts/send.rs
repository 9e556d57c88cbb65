//! Sending one message of an alert: e-mail through the SMTP relay (`--smtp-url`, lettre's
//! async transport, so nothing blocks the runtime), or a POST to a webhook, signed.
//!
//! Every webhook request carries `X-Posture-Signature: t=<unix seconds>,v1=<hex>`, where the
//! hex is HMAC-SHA256, keyed with the channel's secret, of the bytes `<t>.` followed by the
//! raw body; and `Idempotency-Key`, the same for every attempt of one delivery, so a receiver
//! can drop a repeat.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sha2::Sha256;

use super::Message;
use crate::alerts::{AlertChannel, ChannelKind};

/// How long one attempt may take, connecting included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The mail relay: where mail goes and whom it is from.
pub struct SmtpSettings {
    /// `smtp://[user:pass@]host[:port]` (STARTTLS when offered; `?tls=required` to insist),
    /// or `smtps://...` for TLS from the start.
    pub url: String,
    pub from: String,
}

/// Cheap to clone; one per server.
#[derive(Clone)]
pub struct AlertSender(Arc<Senders>);

struct Senders {
    mail: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    http: reqwest::Client,
}

/// Why the mail relay's settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--smtp-url: {0}")]
    Url(String),
    #[error("--smtp-from: {0}")]
    From(String),
}

impl AlertSender {
    pub fn new(smtp: Option<SmtpSettings>) -> Result<Self, SettingsError> {
        let mail = smtp
            .map(|settings| {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
                    .map_err(|e| SettingsError::Url(e.to_string()))?
                    .timeout(Some(ATTEMPT_TIMEOUT))
                    .build();
                let from = settings
                    .from
                    .parse::<Mailbox>()
                    .map_err(|e| SettingsError::From(format!("{:?}: {e}", settings.from)))?;
                Ok((transport, from))
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            // A webhook that moved is reported, not followed: the channel should be fixed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Posture/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with a timeout and no redirects builds");
        Ok(Self(Arc::new(Senders { mail, http })))
    }

    /// Sends `message` through `channel`. `Ok` holds the receiver's answer (SMTP reply or HTTP
    /// status), `Err` why it was not accepted.
    pub async fn send(
        &self,
        channel: &AlertChannel,
        message: &Message,
        idempotency_key: &str,
    ) -> Result<String, String> {
        match channel.kind {
            ChannelKind::Email => self.mail(&channel.target, message, idempotency_key).await,
            kind => {
                let body = webhook_body(kind, message);
                self.post(channel, body, idempotency_key).await
            }
        }
    }

    async fn mail(
        &self,
        to: &str,
        alert: &Message,
        idempotency_key: &str,
    ) -> Result<String, String> {
        let Some((transport, from)) = &self.0.mail else {
            return Err("no mail relay is set up (start the server with --smtp-url)".into());
        };
        let mut message = lettre::Message::builder()
            .from(from.clone())
            .subject(alert.subject.clone())
            // The same id for every attempt: a mail system that saw it once may drop the rest.
            .message_id(Some(format!("<{idempotency_key}@posture.alerts>")))
            .header(ContentType::TEXT_PLAIN);
        for address in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let mailbox = address
                .parse::<Mailbox>()
                .map_err(|e| format!("{address:?} is not an address: {e}"))?;
            message = message.to(mailbox);
        }
        let message = message
            .body(alert.text.clone())
            .map_err(|e| e.to_string())?;
        let response = transport
            .send(message)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        Ok(format!(
            "SMTP {} {}",
            response.code(),
            response.message().collect::<Vec<_>>().join(" ")
        ))
    }

    async fn post(
        &self,
        channel: &AlertChannel,
        body: Vec<u8>,
        idempotency_key: &str,
    ) -> Result<String, String> {
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .0
            .http
            .post(&channel.target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                "X-Posture-Signature",
                signature(&channel.secret, timestamp, &body),
            )
            .header("Idempotency-Key", idempotency_key)
            .body(body)
            .send()
            .await
            .map_err(describe_http_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(format!("HTTP {status}"));
        }
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("elsewhere");
            return Err(format!(
                "HTTP {status}: the webhook moved to {to}; update the channel's URL"
            ));
        }
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(200).collect();
        Err(format!("HTTP {status}: {excerpt}")
            .trim_end_matches(": ")
            .to_string())
    }
}

fn describe_http_error(err: reqwest::Error) -> String {
    if err.is_timeout() {
        format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())
    } else if err.is_connect() {
        format!("could not connect: {err}")
    } else {
        err.to_string()
    }
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The request body for a webhook of `kind`: the message's JSON, or what Slack or a Teams
/// Workflow accepts.
pub fn webhook_body(kind: ChannelKind, message: &Message) -> Vec<u8> {
    let body = match kind {
        ChannelKind::Slack => serde_json::json!({ "text": message.text }),
        ChannelKind::Teams => serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        { "type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": true },
                        { "type": "TextBlock", "text": message.text, "wrap": true }
                    ]
                }
            }]
        }),
        _ => message.json.clone(),
    };
    serde_json::to_vec(&body).expect("JSON serialises")
}
