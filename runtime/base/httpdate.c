/* IMF-fixdate (RFC 9110 §5.6.7), computed from the count of days without gmtime_r: no locale, no
 * time zone database, the same bytes on every machine (the lab compares response bytes). */
#include "asx/base.h"

static const char kWeekday[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}; /* 1970-01-01 was a Thursday */
static const char kMonth[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian), by 400-year eras of 146097
 * days counted from 0000-03-01 so the leap day falls at the end of each computed year. */
static void civil_from_days(uint64_t days, uint64_t *y, unsigned *m, unsigned *d) {
  uint64_t z = days + 719468; /* days from 0000-03-01 to 1970-01-01 */
  uint64_t era = z / 146097;
  uint64_t doe = z - era * 146097;                                    /* [0, 146096] */
  uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
  uint64_t mp = (5 * doy + 2) / 153;                                  /* [0, 11], March = 0 */
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

static char *put2(char *p, unsigned v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
  return p + 2;
}

size_t asx_imf_fixdate(uint64_t unix_sec, char out[ASX_IMF_FIXDATE_LEN + 1]) {
  uint64_t days = unix_sec / 86400, secs = unix_sec % 86400;
  uint64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y > 9999) { /* four digits is all the format has: clamp to its last second */
    y = 9999, m = 12, d = 31, secs = 86399;
    days = 2932896; /* 9999-12-31 */
  }
  char *p = out;
  for (int i = 0; i < 3; i++) *p++ = kWeekday[days % 7][i];
  *p++ = ',';
  *p++ = ' ';
  p = put2(p, d);
  *p++ = ' ';
  for (int i = 0; i < 3; i++) *p++ = kMonth[m - 1][i];
  *p++ = ' ';
  p = put2(p, (unsigned)(y / 100));
  p = put2(p, (unsigned)(y % 100));
  *p++ = ' ';
  p = put2(p, (unsigned)(secs / 3600));
  *p++ = ':';
  p = put2(p, (unsigned)(secs / 60 % 60));
  *p++ = ':';
  p = put2(p, (unsigned)(secs % 60));
  for (const char *g = " GMT"; *g;) *p++ = *g++;
  *p = '\0';
  return ASX_IMF_FIXDATE_LEN;
}

void asx_imf_date_cache_init(asx_imf_date_cache *c) { c->sec = UINT64_MAX; }

asx_slice asx_imf_date_cached(asx_imf_date_cache *c, uint64_t unix_sec) {
  if (unix_sec != c->sec) {
    asx_imf_fixdate(unix_sec, c->text);
    c->sec = unix_sec;
  }
  return (asx_slice){(const uint8_t *)c->text, ASX_IMF_FIXDATE_LEN};
}
