/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Small pieces of output rendering that need no terminal: base64, HTML summaries. */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyexecctl/render.h"
#include "shared/macro.h"

/* How many characters of an HTML fragment's text the summary shows. */
#define HTML_SUMMARY_TEXT_MAX 60

static int base64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_size) {
        _cleanup_free_ unsigned char *buf = NULL;
        uint32_t acc = 0;
        size_t n = 0, bits = 0, pad = 0;

        buf = malloc(len / 4 * 3 + 3);
        if (!buf)
                return -ENOMEM;

        for (size_t i = 0; i < len; i++) {
                int v;

                /* nbformat writes long base64 in lines; JSON may carry any whitespace. */
                if (isspace((unsigned char) s[i]))
                        continue;
                if (s[i] == '=') {
                        pad++;
                        continue;
                }
                v = base64_value(s[i]);
                if (v < 0 || pad > 0)   /* a data character after padding */
                        return -EINVAL;
                acc = (acc << 6) | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        buf[n++] = (unsigned char) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }

        /* Left-over bits must be the zero filler of an incomplete group (2 or 4 bits). */
        if (bits >= 6 || pad > 2 || acc != 0)
                return -EINVAL;

        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

bool object_repr_is_default(const char *text) {
        size_t len;

        if (!text)
                return false;
        len = strlen(text);

        /* "<module.Class object>" or "<module.Class object at 0x7f…>", one line. */
        if (len < 3 || text[0] != '<' || text[len - 1] != '>' || strchr(text, '\n'))
                return false;
        return strstr(text, " object>") || strstr(text, " object at 0x");
}

/* Does the tag at @p (just after '<') have the name @name (case-insensitive)? */
static bool tag_is(const char *p, const char *name) {
        size_t n = strlen(name);

        return strncasecmp(p, name, n) == 0 &&
                (p[n] == '>' || p[n] == '/' || isspace((unsigned char) p[n]));
}

/* Counts the table's data rows: <tr> elements holding a <td>; rows of only
 * <th> (pandas' column headers) are headers. */
static unsigned html_count_rows(const char *html) {
        unsigned rows = 0;
        bool in_row = false, row_has_td = false;

        for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
                if (tag_is(p + 1, "tr") || tag_is(p + 1, "/tr") || tag_is(p + 1, "/table")) {
                        if (in_row && row_has_td)
                                rows++;
                        in_row = tag_is(p + 1, "tr");
                        row_has_td = false;
                } else if (tag_is(p + 1, "td"))
                        row_has_td = true;
        }
        if (in_row && row_has_td)
                rows++;
        return rows;
}

static const char *html_entity(const char *p, char *ret) {
        static const struct { const char *name; char c; } entities[] = {
                { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
                { "&quot;", '"' }, { "&#39;", '\'' }, { "&nbsp;", ' ' },
        };

        for (size_t i = 0; i < ELEMENTSOF(entities); i++)
                if (strncmp(p, entities[i].name, strlen(entities[i].name)) == 0) {
                        *ret = entities[i].c;
                        return p + strlen(entities[i].name);
                }
        *ret = '&';
        return p + 1;
}

/* The fragment's visible text, whitespace collapsed, cut after
 * HTML_SUMMARY_TEXT_MAX bytes (at a character boundary, with "…"). */
static char *html_text(const char *html) {
        size_t len = strlen(html), n = 0;
        _cleanup_free_ char *t = malloc(HTML_SUMMARY_TEXT_MAX + sizeof("…"));
        bool space = false, cut = false;
        const char *p = html;

        if (!t)
                return NULL;

        while (p < html + len) {
                char c;

                if (*p == '<') {
                        /* Script and style hold no text that is shown. */
                        const char *skip_to = tag_is(p + 1, "script") ? "</script" :
                                              tag_is(p + 1, "style") ? "</style" : NULL;
                        if (skip_to) {
                                const char *e = strcasestr(p, skip_to);
                                p = e ? e : html + len;
                        }
                        p = strchr(p, '>');
                        p = p ? p + 1 : html + len;
                        space = n > 0;  /* tags separate words (cells, paragraphs) */
                        continue;
                }
                if (*p == '&')
                        p = html_entity(p, &c);
                else
                        c = *p++;

                if (isspace((unsigned char) c)) {
                        space = n > 0;
                        continue;
                }
                if (space) {
                        if (n + 1 >= HTML_SUMMARY_TEXT_MAX) {
                                cut = true;
                                break;
                        }
                        t[n++] = ' ';
                        space = false;
                }
                if (n >= HTML_SUMMARY_TEXT_MAX) {
                        cut = true;
                        break;
                }
                t[n++] = c;
        }

        if (cut) {
                /* Do not leave half a UTF-8 sequence before the ellipsis. */
                size_t i = n;
                while (i > 0 && ((unsigned char) t[i - 1] & 0xC0) == 0x80)
                        i--;
                if (i > 0 && (unsigned char) t[i - 1] >= 0xC0) {
                        unsigned char lead = (unsigned char) t[i - 1];
                        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
                        if (n - (i - 1) < want)
                                n = i - 1;
                }
                memcpy(t + n, "…", sizeof("…"));
        } else
                t[n] = '\0';

        return TAKE_PTR(t);
}

char *html_summary(const char *html) {
        _cleanup_free_ char *text = NULL;
        char *s = NULL;

        if (!html)
                return NULL;

        if (strcasestr(html, "<table")) {
                unsigned rows = html_count_rows(html);
                if (asprintf(&s, "[HTML table, %u row%s]", rows, rows == 1 ? "" : "s") < 0)
                        return NULL;
                return s;
        }

        text = html_text(html);
        if (!text)
                return NULL;
        if (asprintf(&s, "[HTML]%s%s", *text ? " " : "", text) < 0)
                return NULL;
        return s;
}
