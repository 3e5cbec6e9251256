//! HTML for the console: escaping and the page frame. Every string that reaches a page
//! goes through [`esc`] (text and attribute values alike), or is built here from escaped
//! parts; nothing user-controlled is ever written raw.

use std::fmt::Write;

/// `s` safe in HTML text and in double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A path segment of a console URL (function names, zones): percent-encoded, then safe
/// in an attribute.
pub fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The console's pages, in the navigation's order: (path under the console, title).
pub const PAGES: [(&str, &str); 4] = [
    ("topology", "VPC topology"),
    ("functions", "Functions"),
    ("capacity", "ENI capacity"),
    ("zones", "AZ drill"),
];

/// Who is looking: shown in the header, and the CSRF token every form carries.
pub struct Viewer<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub csrf: &'a str,
    /// Signed in implicitly (the default key on loopback).
    pub implicit: bool,
}

/// A whole page: header, navigation (once signed in), and `body` (already HTML).
pub fn page(title: &str, active: &str, viewer: Option<&Viewer>, body: &str) -> String {
    let mut nav = String::new();
    if viewer.is_some() {
        nav.push_str("<nav aria-label=\"Console\"><ul>");
        for (path, name) in PAGES {
            let current = if path == active {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                nav,
                "<li><a href=\"/_vpclambda/console/{path}\"{current}>{name}</a></li>"
            );
        }
        nav.push_str("</ul></nav>");
    }
    let who = match viewer {
        Some(v) => {
            let how = if v.implicit {
                " (default key, loopback)"
            } else {
                ""
            };
            format!(
                "<div class=\"who\">Account <strong>{}</strong> · {}{how} \
                 <form method=\"post\" action=\"/_vpclambda/console/signout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\">{}</button></form></div>",
                esc(v.account_id),
                esc(v.region),
                esc(v.csrf),
                if v.implicit {
                    "Sign in as another account"
                } else {
                    "Sign out"
                },
            )
        }
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · vpclambda</title>\
         <link rel=\"stylesheet\" href=\"/_vpclambda/console/assets/console.css\">\
         <script src=\"/_vpclambda/console/assets/console.js\" defer></script>\
         </head><body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><span class=\"brand\">vpclambda</span>{nav}{who}</header>\
         <main id=\"main\" tabindex=\"-1\"><h1>{}</h1>{body}</main></body></html>\n",
        esc(title),
        esc(title),
    )
}

/// The live region of a page: rendered in full, and replaced by the stream at `stream`.
pub fn live(stream: &str, inner: &str) -> String {
    format!(
        "<div id=\"live\" data-stream=\"{}\" aria-live=\"polite\">{inner}</div>",
        esc(stream)
    )
}

/// A table with a caption; `rows` are already-escaped cells.
pub fn table(caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table><caption>{}</caption><thead><tr>", esc(caption));
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"none\">none</td></tr>",
            head.len()
        );
    }
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            esc(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(seg("my-fn_1"), "my-fn_1");
        assert_eq!(seg("a b/\"<"), "a%20b%2F%22%3C");
    }

    #[test]
    fn the_frame_escapes_the_title_and_marks_the_current_page() {
        let v = Viewer {
            account_id: "111111111111",
            region: "us-east-1",
            csrf: "tok",
            implicit: false,
        };
        let html = page("<b>", "functions", Some(&v), "");
        assert!(html.contains("<title>&lt;b&gt; · vpclambda</title>"));
        assert!(html.contains("href=\"/_vpclambda/console/functions\" aria-current=\"page\""));
        assert!(html.contains("name=\"csrf\" value=\"tok\""));
    }
}
