// ANSI colours (SGR escapes) in agent output as coloured spans, in the theme's terminal
// colours. Other escape sequences (cursor moves, titles) are dropped. The text is
// HTML-escaped first; links are marked (links.ts). Pure.

import { linkify } from "./links";

// biome-ignore lint: the escape character is the point
const ESCAPES = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>NOMDEHc78]/g;

interface Style {
  fg?: number;
  bg?: number;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function apply(style: Style, codes: number[]): Style {
  const s = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) for (const k of Object.keys(s)) delete s[k as keyof Style];
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 22) s.bold = s.dim = undefined;
    else if (c === 23) s.italic = undefined;
    else if (c === 24) s.underline = undefined;
    else if (c >= 30 && c <= 37) s.fg = c - 30;
    else if (c >= 90 && c <= 97) s.fg = c - 90 + 8;
    else if (c === 39) s.fg = undefined;
    else if (c >= 40 && c <= 47) s.bg = c - 40;
    else if (c >= 100 && c <= 107) s.bg = c - 100 + 8;
    else if (c === 49) s.bg = undefined;
    else if (c === 38 || c === 48) {
      // 256 colours: the first 16 map to the theme's; others, and true colour, are skipped.
      const mode = codes[i + 1];
      if (mode === 5) {
        const n = codes[i + 2];
        if (n !== undefined && n < 16) {
          if (c === 38) s.fg = n;
          else s.bg = n;
        }
        i += 2;
      } else if (mode === 2) i += 4;
    }
  }
  return s;
}

function classes(s: Style): string {
  const out: string[] = [];
  if (s.fg !== undefined) out.push(`ansi-fg-${s.fg}`);
  if (s.bg !== undefined) out.push(`ansi-bg-${s.bg}`);
  if (s.bold) out.push("ansi-bold");
  if (s.dim) out.push("ansi-dim");
  if (s.italic) out.push("ansi-italic");
  if (s.underline) out.push("ansi-underline");
  return out.join(" ");
}

/** Agent output as safe HTML: colours as spans, links marked, every other character escaped. */
export function ansiToHtml(text: string): string {
  let style: Style = {};
  let last = 0;
  let html = "";
  const emit = (chunk: string) => {
    if (!chunk) return;
    const body = linkify(escapeHtml(chunk));
    const cls = classes(style);
    html += cls ? `<span class="${cls}">${body}</span>` : body;
  };
  for (const m of text.matchAll(ESCAPES)) {
    emit(text.slice(last, m.index));
    last = (m.index ?? 0) + m[0].length;
    if (m[2] === "m") {
      const codes = (m[1] ?? "").split(";").map((c) => (c === "" ? 0 : Number(c)));
      style = apply(style, codes);
    }
  }
  emit(text.slice(last));
  return html;
}
