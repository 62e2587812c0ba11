//! The test kit's recording SMTP server ([`portcullis_tests::SmtpSink`]),
//! with the few conveniences these suites use.

pub use portcullis_tests::SmtpMessage as Mail;

pub struct SmtpSink(portcullis_tests::SmtpSink);

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink(
            portcullis_tests::SmtpSink::start()
                .await
                .unwrap_or_else(|e| panic!("{e:#}")),
        )
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.0.messages()
    }

    pub fn mails_to(&self, rcpt: &str) -> Vec<Mail> {
        self.0.messages_to(rcpt)
    }

    pub fn last_to(&self, rcpt: &str) -> Mail {
        self.mails_to(rcpt)
            .pop()
            .unwrap_or_else(|| panic!("no mail to {rcpt}"))
    }

    /// Refuse every MAIL FROM while `on`.
    pub fn refuse(&self, on: bool) {
        self.0.refuse(on);
    }
}
