/// HTML text: every string that comes from the ledger, the store or a request goes through ``escape(_:)``.
enum HTML {
    /// `text` safe to place in element content and in quoted attribute values.
    static func escape(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A whole page around `body` (already HTML); `title` is escaped here. No external assets.
    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>\(escape(title))</title>
        <style>
        body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
        main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
        h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
        h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid #ddd; }
        h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
        dt { font-weight: 600; }
        dd { margin: 0; overflow-wrap: anywhere; }
        pre { background: #fff; border: 1px solid #ddd; padding: .75rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
        .state { padding: .5rem .75rem; border-radius: 4px; }
        .pending { background: #fff4d6; } .declared { background: #fde2e1; } .valid { background: #dff5e1; }
        form label { display: block; margin: .5rem 0; }
        fieldset label { margin: .4rem 0; }
        input[type=text], input[type=password], textarea { display: block; width: 100%; max-width: 30rem; padding: .3rem; font: inherit; }
        button { font: inherit; padding: .4rem 1rem; margin-top: .5rem; }
        .hint { color: #555; font-size: 13px; }
        </style>
        </head>
        <body>
        <main>
        \(body)
        </main>
        </body>
        </html>

        """
    }
}
