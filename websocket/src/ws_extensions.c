/* Sec-WebSocket-Extensions parsing (RFC 6455 section 9.1) and permessage-deflate negotiation
 * (RFC 7692 section 7.1) for both roles. */
#include <stdio.h>
#include <string.h>

#include "ws_internal.h"

static bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

static void skip_ows(asx_slice s, size_t *pos) {
  while (*pos < s.len && is_ows(s.ptr[*pos])) (*pos)++;
}

static bool parse_token(asx_slice s, size_t *pos, asx_slice *tok) {
  size_t start = *pos;
  while (*pos < s.len && ws_is_tchar(s.ptr[*pos])) (*pos)++;
  *tok = (asx_slice){s.ptr + start, *pos - start};
  return tok->len > 0;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; the slice excludes the quotes. */
static bool parse_quoted(asx_slice s, size_t *pos, asx_slice *val) {
  (*pos)++; /* opening quote */
  size_t start = *pos;
  while (*pos < s.len) {
    uint8_t c = s.ptr[*pos];
    if (c == '"') {
      *val = (asx_slice){s.ptr + start, *pos - start};
      (*pos)++;
      return true;
    }
    if (c == '\\') {
      if (*pos + 1 >= s.len) return false;
      (*pos) += 2;
      continue;
    }
    if (c < 0x20 && c != '\t') return false;
    if (c == 0x7f) return false;
    (*pos)++;
  }
  return false;
}

int ws_ext_next(asx_slice list, size_t *pos, ws_ext *ext) {
  memset(ext, 0, sizeof *ext);
  /* Empty list elements (",,") are allowed by the #rule and skipped. */
  for (;;) {
    skip_ows(list, pos);
    if (*pos < list.len && list.ptr[*pos] == ',') {
      (*pos)++;
      continue;
    }
    break;
  }
  if (*pos >= list.len) return 0;
  if (!parse_token(list, pos, &ext->name)) return ASX_EPROTO;
  for (;;) {
    skip_ows(list, pos);
    if (*pos >= list.len) return 1;
    uint8_t c = list.ptr[*pos];
    if (c == ',') {
      (*pos)++;
      return 1;
    }
    if (c != ';') return ASX_EPROTO;
    (*pos)++;
    skip_ows(list, pos);
    ws_ext_param p = {0};
    if (!parse_token(list, pos, &p.name)) return ASX_EPROTO;
    skip_ows(list, pos);
    if (*pos < list.len && list.ptr[*pos] == '=') {
      (*pos)++;
      skip_ows(list, pos);
      if (*pos < list.len && list.ptr[*pos] == '"') {
        if (!parse_quoted(list, pos, &p.value)) return ASX_EPROTO;
        p.quoted = true;
        if (!p.value.ptr) p.value.ptr = list.ptr + *pos; /* empty "" still counts as a value */
      } else if (!parse_token(list, pos, &p.value)) {
        return ASX_EPROTO;
      }
    }
    if (ext->nparams < WS_EXT_MAX_PARAMS) {
      ext->params[ext->nparams++] = p;
    } else {
      ext->too_many_params = true;
    }
  }
}

/* The parsed permessage-deflate parameters of one offer or response. */
typedef struct pmd {
  bool snct, cnct;      /* server/client_no_context_takeover present */
  bool smwb, cmwb;      /* server/client_max_window_bits present */
  uint8_t smwb_val;     /* 0 when absent */
  uint8_t cmwb_val;     /* 0 when absent or given without a value */
} pmd;

/* Window bits: "8".."15", no leading zero, no escapes (quoted form allowed by RFC 7692). */
static bool parse_bits(asx_slice v, uint8_t *out) {
  if (v.len == 1 && v.ptr[0] >= '8' && v.ptr[0] <= '9') {
    *out = (uint8_t)(v.ptr[0] - '0');
    return true;
  }
  if (v.len == 2 && v.ptr[0] == '1' && v.ptr[1] >= '0' && v.ptr[1] <= '5') {
    *out = (uint8_t)(10 + v.ptr[1] - '0');
    return true;
  }
  return false;
}

/* Validates the parameters of one permessage-deflate element. `response` requires a value for
 * client_max_window_bits (only offers may omit it). Unknown, duplicate or invalid parameters
 * make the element invalid. */
static bool pmd_parse(const ws_ext *e, bool response, pmd *out) {
  memset(out, 0, sizeof *out);
  if (e->too_many_params) return false;
  for (size_t i = 0; i < e->nparams; i++) {
    const ws_ext_param *p = &e->params[i];
    bool has_value = p->value.ptr != NULL;
    if (asx_slice_eq_nocase(p->name, "server_no_context_takeover")) {
      if (out->snct || has_value) return false;
      out->snct = true;
    } else if (asx_slice_eq_nocase(p->name, "client_no_context_takeover")) {
      if (out->cnct || has_value) return false;
      out->cnct = true;
    } else if (asx_slice_eq_nocase(p->name, "server_max_window_bits")) {
      if (out->smwb || !has_value || !parse_bits(p->value, &out->smwb_val)) return false;
      out->smwb = true;
    } else if (asx_slice_eq_nocase(p->name, "client_max_window_bits")) {
      if (out->cmwb) return false;
      if (has_value) {
        if (!parse_bits(p->value, &out->cmwb_val)) return false;
      } else if (response) {
        return false;
      }
      out->cmwb = true;
    } else {
      return false;
    }
  }
  return true;
}

asx_ws_deflate_params asx_ws_deflate_params_default(void) {
  return (asx_ws_deflate_params){false, false, 15, 15};
}

static bool bits_ok(uint8_t b) { return b == 0 || (b >= 8 && b <= 15); }

/* Appends formatted text to out[*len..cap); false when it does not fit. */
static bool put(char *out, size_t cap, size_t *len, const char *s, int bits) {
  if (*len >= cap) return false;
  int n = bits ? snprintf(out + *len, cap - *len, "%s=%d", s, bits)
               : snprintf(out + *len, cap - *len, "%s", s);
  if (n < 0 || (size_t)n >= cap - *len) return false;
  *len += (size_t)n;
  return true;
}

static int format_params(const asx_ws_deflate_params *p, bool send_smwb, bool send_cmwb,
                         char *out, size_t cap) {
  size_t len = 0;
  bool ok = put(out, cap, &len, "permessage-deflate", 0);
  if (ok && p->server_no_context_takeover) ok = put(out, cap, &len, "; server_no_context_takeover", 0);
  if (ok && p->client_no_context_takeover) ok = put(out, cap, &len, "; client_no_context_takeover", 0);
  if (ok && send_smwb) ok = put(out, cap, &len, "; server_max_window_bits", p->server_max_window_bits);
  if (ok && send_cmwb) ok = put(out, cap, &len, "; client_max_window_bits", p->client_max_window_bits);
  return ok ? 0 : ASX_EOVERFLOW;
}

int asx_ws_deflate_negotiate(asx_slice request_value, const asx_ws_deflate_offer *policy,
                             asx_ws_deflate_params *out, char *resp, size_t resp_cap) {
  static const asx_ws_deflate_offer no_policy;
  if (!policy) policy = &no_policy;
  if (!out || !resp || !resp_cap) return ASX_EINVAL;
  if (!bits_ok(policy->server_max_window_bits) || !bits_ok(policy->client_max_window_bits))
    return ASX_EINVAL;
  resp[0] = '\0';
  if (!request_value.ptr) return ASX_ENOTFOUND;
  uint8_t our_cap = policy->server_max_window_bits ? policy->server_max_window_bits : 15;
  uint8_t client_cap = policy->client_max_window_bits ? policy->client_max_window_bits : 15;
  size_t pos = 0;
  ws_ext e;
  int rc;
  /* The whole list is checked for syntax even after a match, so a malformed header is always
   * reported the same way wherever the damage is. */
  bool found = false;
  asx_ws_deflate_params chosen = asx_ws_deflate_params_default();
  bool send_smwb = false, send_cmwb = false;
  while ((rc = ws_ext_next(request_value, &pos, &e)) == 1) {
    if (found || !asx_slice_eq_nocase(e.name, "permessage-deflate")) continue;
    pmd o;
    if (!pmd_parse(&e, false, &o)) continue; /* RFC 7692 5: decline an invalid offer */
    asx_ws_deflate_params p = asx_ws_deflate_params_default();
    p.server_no_context_takeover = o.snct || policy->server_no_context_takeover;
    p.client_no_context_takeover = o.cnct || policy->client_no_context_takeover;
    p.server_max_window_bits = our_cap;
    if (o.smwb && o.smwb_val < p.server_max_window_bits) p.server_max_window_bits = o.smwb_val;
    send_smwb = o.smwb || p.server_max_window_bits < 15;
    /* We may only bound the client's window when it said it can honour a bound. */
    send_cmwb = false;
    if (o.cmwb) {
      p.client_max_window_bits = o.cmwb_val ? o.cmwb_val : 15;
      if (client_cap < p.client_max_window_bits) p.client_max_window_bits = client_cap;
      send_cmwb = p.client_max_window_bits < 15 || o.cmwb_val != 0;
    }
    chosen = p;
    found = true;
  }
  if (rc < 0) return rc;
  if (!found) return ASX_ENOTFOUND;
  rc = format_params(&chosen, send_smwb, send_cmwb, resp, resp_cap);
  if (rc) {
    resp[0] = '\0';
    return rc;
  }
  *out = chosen;
  return 0;
}

int asx_ws_deflate_offer_format(const asx_ws_deflate_offer *offer, char *buf, size_t cap) {
  if (!offer || !buf || !cap) return ASX_EINVAL;
  if (!bits_ok(offer->server_max_window_bits) || !bits_ok(offer->client_max_window_bits))
    return ASX_EINVAL;
  size_t len = 0;
  buf[0] = '\0';
  bool ok = put(buf, cap, &len, "permessage-deflate", 0);
  if (ok && offer->server_no_context_takeover) ok = put(buf, cap, &len, "; server_no_context_takeover", 0);
  if (ok && offer->client_no_context_takeover) ok = put(buf, cap, &len, "; client_no_context_takeover", 0);
  if (ok && offer->server_max_window_bits)
    ok = put(buf, cap, &len, "; server_max_window_bits", offer->server_max_window_bits);
  if (ok && offer->client_max_window_bits)
    ok = put(buf, cap, &len, "; client_max_window_bits", offer->client_max_window_bits);
  else if (ok && offer->client_max_window_bits_any)
    ok = put(buf, cap, &len, "; client_max_window_bits", 0);
  if (!ok) {
    buf[0] = '\0';
    return ASX_EOVERFLOW;
  }
  return 0;
}

int asx_ws_deflate_response_check(asx_slice response_value, const asx_ws_deflate_offer *offer,
                                  asx_ws_deflate_params *out) {
  if (!offer || !out) return ASX_EINVAL;
  size_t pos = 0;
  ws_ext e;
  int rc;
  bool found = false;
  pmd r = {0};
  while ((rc = ws_ext_next(response_value, &pos, &e)) == 1) {
    /* We offered exactly one extension; anything else, or a second copy, is non-conforming. */
    if (found || !asx_slice_eq_nocase(e.name, "permessage-deflate")) return ASX_EPROTO;
    if (!pmd_parse(&e, true, &r)) return ASX_EPROTO;
    found = true;
  }
  if (rc < 0) return ASX_EPROTO;
  if (!found) return ASX_ENOTFOUND;
  if (offer->server_no_context_takeover && !r.snct) return ASX_EPROTO;
  if (offer->server_max_window_bits) {
    if (!r.smwb || r.smwb_val > offer->server_max_window_bits) return ASX_EPROTO;
  }
  bool offered_cmwb = offer->client_max_window_bits || offer->client_max_window_bits_any;
  if (r.cmwb) {
    if (!offered_cmwb) return ASX_EPROTO;
    if (offer->client_max_window_bits && r.cmwb_val > offer->client_max_window_bits)
      return ASX_EPROTO;
  }
  asx_ws_deflate_params p = asx_ws_deflate_params_default();
  p.server_no_context_takeover = r.snct;
  p.client_no_context_takeover = r.cnct || offer->client_no_context_takeover;
  p.server_max_window_bits = r.smwb ? r.smwb_val : 15;
  if (r.cmwb) {
    p.client_max_window_bits = r.cmwb_val;
  } else if (offer->client_max_window_bits) {
    p.client_max_window_bits = offer->client_max_window_bits;
  }
  *out = p;
  return 0;
}
