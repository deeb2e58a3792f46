package schemas

import "strconv"

// IDField describes one typed id of a source: its Avro field name and type.
type IDField struct {
	Name string
	// Long is true for numeric ids (Avro ["null","long"]), false for
	// string ids (Avro ["null","string"]).
	Long bool
	Doc  string
}

// idFields lists the typed ids each source carries, in schema field order.
var idFields = map[string][]IDField{
	"portabilling": {
		{"i_env", true, "PortaBilling environment (virtual billing instance)"},
		{"i_customer", true, "PortaBilling customer id"},
		{"i_account", true, "PortaBilling account id"},
		{"i_product", true, "PortaBilling product id"},
		{"i_did", true, "PortaBilling DID inventory id"},
		{"did_number", false, "DID number as sent by ESPF (variable number)"},
		{"i_invoice", true, "PortaBilling invoice id"},
		{"i_payment_transaction", true, "PortaBilling payment transaction id"},
		{"i_vendor", true, "PortaBilling vendor id"},
		{"i_connection", true, "PortaBilling vendor connection id"},
	},
	"transatel": {
		{"msisdn", false, "subscriber MSISDN"},
		{"sim_serial", false, "SIM card serial number (ICCID)"},
		{"imsi", false, "subscriber IMSI"},
		{"transaction_id", false, "Transatel transaction id of the request that caused the event"},
	},
	"jerasoft": {
		{"object_id", false, "JeraSoft VCS id of the entity the event happened to"},
	},
}

// Sources lists the sources with typed ids, in schema order.
var Sources = []string{"portabilling", "transatel", "jerasoft"}

// IDFields returns the typed ids of a source, or nil for an unknown source.
func IDFields(source string) []IDField { return idFields[source] }

func formatID(p *int64) (string, bool) {
	if p == nil {
		return "", false
	}
	return strconv.FormatInt(*p, 10), true
}

func formatString(p *string) (string, bool) {
	if p == nil {
		return "", false
	}
	return *p, true
}
