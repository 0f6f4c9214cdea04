package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ParseURL reads the Options of a URL of the form
//
//	s3://[ACCESS:SECRET@]host[:port]/bucket[?secure=false&region=eu-west-1&part-size-mib=16]
//
// secure is true unless given (HTTPS); region is empty (asked of the
// server) unless given. A secret holding '/', '+' or '@' is written
// percent-encoded. Credentials missing from the URL are left empty for
// the caller to fill (from the environment, say).
func ParseURL(raw string) (Options, error) {
	var o Options
	u, err := url.Parse(raw)
	if err != nil {
		return o, errors.New("s3: not a URL") // url's error would repeat the secret
	}
	if u.Scheme != "s3" {
		return o, fmt.Errorf("s3: URL scheme %q, want s3://", u.Scheme)
	}
	if u.Host == "" {
		return o, errors.New("s3: the URL names no host")
	}
	o.Endpoint = u.Host
	bucket := strings.TrimPrefix(u.Path, "/")
	if bucket == "" || strings.Contains(bucket, "/") {
		return o, fmt.Errorf("s3: the URL path must be one bucket name, as in s3://host/bucket (got %q)", u.Path)
	}
	o.Bucket = bucket
	if u.User != nil {
		o.AccessKey = u.User.Username()
		o.SecretKey, _ = u.User.Password()
		if o.AccessKey == "" || o.SecretKey == "" {
			return o, errors.New("s3: the URL's credentials must be ACCESS:SECRET")
		}
	}
	o.Secure = true
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("s3: secure=%q is not true or false", v)
			}
			o.Secure = b
		case "region":
			o.Region = v
		case "part-size-mib":
			n, err := strconv.Atoi(v)
			if err != nil || n < MinPartSize>>20 || n > 5<<10 {
				return o, fmt.Errorf("s3: part-size-mib=%q: want %d to 5120", v, MinPartSize>>20)
			}
			o.PartSize = int64(n) << 20
		default:
			return o, fmt.Errorf("s3: unknown URL parameter %q (known: secure, region, part-size-mib)", k)
		}
	}
	return o, nil
}

// String names the bucket without the credentials, for logs.
func (o Options) String() string {
	scheme := "https"
	if !o.Secure {
		scheme = "http"
	}
	return fmt.Sprintf("s3 bucket %s at %s://%s", o.Bucket, scheme, o.Endpoint)
}
