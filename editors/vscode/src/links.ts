// Links in agent text: URLs, and file paths (with a line) that open in an editor. Works on
// text that is already HTML-escaped, and only ever adds its own <a> elements, whose
// attributes hold escaped text: nothing the agent wrote becomes markup.

const URL_RE = /\bhttps?:\/\/[^\s<>"'`)\]]+[^\s<>"'`)\].,;:!?]/g;
/** `src/a.ts`, `./x/y.rs:12`, `README.md:3:5`: a path with a folder or an extension. */
const PATH_RE = /(?<![\w/.-])((?:\.{1,2}\/)?(?:[\w.-]+\/)*[\w.-]+\.[A-Za-z][\w]{0,9})(?::(\d+)(?::\d+)?)?(?![\w/])/g;

/** Marks URLs and file paths in escaped text as links. */
export function linkify(escaped: string): string {
  const parts: string[] = [];
  let last = 0;
  for (const m of escaped.matchAll(URL_RE)) {
    parts.push(linkPaths(escaped.slice(last, m.index)));
    parts.push(`<a class="link" data-href="${m[0]}" href="#">${m[0]}</a>`);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(linkPaths(escaped.slice(last)));
  return parts.join("");
}

function linkPaths(escaped: string): string {
  return escaped.replace(PATH_RE, (whole: string, file: string, line: string | undefined) => {
    // A bare word with a dot (e.g. "e.g", "v1.2") is not a path: need a slash or a known-looking extension.
    if (!file.includes("/") && !/\.(?:[a-z]{2,5})$/i.test(file)) return whole;
    if (/^\d+(\.\d+)+$/.test(file)) return whole;
    const lineAttr = line ? ` data-line="${line}"` : "";
    return `<a class="link" data-file="${file}"${lineAttr} href="#">${whole}</a>`;
  });
}
