//! A minimal streaming XML writer for AWS query/EC2 responses. It escapes every text
//! node and attribute, so user-supplied strings can never break the document.

/// Builds one XML document; `open`/`close` must balance.
pub struct XmlWriter {
    out: String,
    stack: Vec<String>,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            stack: Vec::new(),
        }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self.stack.push(tag.to_string());
        self
    }

    pub fn open_ns(&mut self, tag: &str, xmlns: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push_str(" xmlns=\"");
        escape_into(&mut self.out, xmlns);
        self.out.push_str("\">");
        self.stack.push(tag.to_string());
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(tag) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(&tag);
            self.out.push('>');
        }
        self
    }

    /// `<tag>text</tag>`, text escaped.
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `elem` only when there is a value.
    pub fn opt_elem(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }

    /// `<tag>true|false</tag>`.
    pub fn bool_elem(&mut self, tag: &str, value: bool) -> &mut Self {
        self.elem(tag, if value { "true" } else { "false" })
    }

    /// Closes whatever is still open and returns the document.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters even escaped; drop them rather
            // than emit a document clients refuse to parse.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_balances() {
        let mut w = XmlWriter::new();
        w.open("a");
        w.elem("b", "<x & 'y'>\u{1}");
        let doc = w.finish();
        assert!(doc.ends_with("<a><b>&lt;x &amp; &apos;y&apos;&gt;</b></a>"));
    }
}
