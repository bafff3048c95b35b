package tls

// versionName returns the text of a protocol version: "1.0" to "1.3",
// "SSL 3.0", or "" for other values (the caller formats those in hex).
func versionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "1.0"
	case 0x0302:
		return "1.1"
	case 0x0303:
		return "1.2"
	case 0x0304:
		return "1.3"
	}
	return ""
}

// alertName returns the RFC 8446 (and RFC 5246, RFC 7301) name of an alert
// description, or "" for an unregistered one.
func alertName(d uint8) string {
	switch d {
	case 0:
		return "close_notify"
	case 10:
		return "unexpected_message"
	case 20:
		return "bad_record_mac"
	case 21:
		return "decryption_failed"
	case 22:
		return "record_overflow"
	case 30:
		return "decompression_failure"
	case 40:
		return "handshake_failure"
	case 41:
		return "no_certificate"
	case 42:
		return "bad_certificate"
	case 43:
		return "unsupported_certificate"
	case 44:
		return "certificate_revoked"
	case 45:
		return "certificate_expired"
	case 46:
		return "certificate_unknown"
	case 47:
		return "illegal_parameter"
	case 48:
		return "unknown_ca"
	case 49:
		return "access_denied"
	case 50:
		return "decode_error"
	case 51:
		return "decrypt_error"
	case 60:
		return "export_restriction"
	case 70:
		return "protocol_version"
	case 71:
		return "insufficient_security"
	case 80:
		return "internal_error"
	case 86:
		return "inappropriate_fallback"
	case 90:
		return "user_canceled"
	case 100:
		return "no_renegotiation"
	case 109:
		return "missing_extension"
	case 110:
		return "unsupported_extension"
	case 111:
		return "certificate_unobtainable"
	case 112:
		return "unrecognized_name"
	case 113:
		return "bad_certificate_status_response"
	case 114:
		return "bad_certificate_hash_value"
	case 115:
		return "unknown_psk_identity"
	case 116:
		return "certificate_required"
	case 120:
		return "no_application_protocol"
	}
	return ""
}

// cipherName returns the IANA name of a cipher suite, or "" for one this
// table does not hold (the caller formats those in hex). The table holds
// the suites of TLS 1.3 and those current TLS 1.0-1.2 stacks offer.
func cipherName(c uint16) string {
	switch c {
	case 0x0000:
		return "TLS_NULL_WITH_NULL_NULL"
	case 0x0004:
		return "TLS_RSA_WITH_RC4_128_MD5"
	case 0x0005:
		return "TLS_RSA_WITH_RC4_128_SHA"
	case 0x000a:
		return "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0x0016:
		return "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0x002f:
		return "TLS_RSA_WITH_AES_128_CBC_SHA"
	case 0x0032:
		return "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"
	case 0x0033:
		return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
	case 0x0035:
		return "TLS_RSA_WITH_AES_256_CBC_SHA"
	case 0x0038:
		return "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"
	case 0x0039:
		return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"
	case 0x003c:
		return "TLS_RSA_WITH_AES_128_CBC_SHA256"
	case 0x003d:
		return "TLS_RSA_WITH_AES_256_CBC_SHA256"
	case 0x0041:
		return "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0045:
		return "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"
	case 0x0067:
		return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"
	case 0x006b:
		return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"
	case 0x0084:
		return "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"
	case 0x0088:
		return "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"
	case 0x009c:
		return "TLS_RSA_WITH_AES_128_GCM_SHA256"
	case 0x009d:
		return "TLS_RSA_WITH_AES_256_GCM_SHA384"
	case 0x009e:
		return "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
	case 0x009f:
		return "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
	case 0x00ff:
		return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
	case 0x1301:
		return "TLS_AES_128_GCM_SHA256"
	case 0x1302:
		return "TLS_AES_256_GCM_SHA384"
	case 0x1303:
		return "TLS_CHACHA20_POLY1305_SHA256"
	case 0x1304:
		return "TLS_AES_128_CCM_SHA256"
	case 0x1305:
		return "TLS_AES_128_CCM_8_SHA256"
	case 0x5600:
		return "TLS_FALLBACK_SCSV"
	case 0xc009:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
	case 0xc00a:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
	case 0xc011:
		return "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
	case 0xc012:
		return "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0xc013:
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
	case 0xc014:
		return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
	case 0xc023:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
	case 0xc024:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"
	case 0xc027:
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
	case 0xc028:
		return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
	case 0xc02b:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	case 0xc02c:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	case 0xc02f:
		return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	case 0xc030:
		return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
	case 0xc09c:
		return "TLS_RSA_WITH_AES_128_CCM"
	case 0xc09d:
		return "TLS_RSA_WITH_AES_256_CCM"
	case 0xc0ac:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"
	case 0xc0ad:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"
	case 0xcca8:
		return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
	case 0xcca9:
		return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
	case 0xccaa:
		return "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
	}
	return ""
}
