package jit

import (
	"bytes"
	"encoding/xml"
	"strings"
)

// claimedAttributes reads the attributes a document's AttributeStatement
// claims (shapeClaims.AttributeStatement), the way Verify reads the verified
// assertion's: each Attribute's Name, each AttributeValue's text trimmed, or
// the text of the NameID inside it. It is a guess, made before the
// signature is checked, for the reads the ACS starts meanwhile (see
// prefetched); nothing may trust it. The statement has passed the shape
// check (no DTD, no entity but XML's own, well-formed), and its namespace
// prefixes, declared outside it, are not resolved: only local names count.
// A statement it cannot read yields nil, and the reads wait for the
// verified values.
func claimedAttributes(stmt []byte) map[string][]string {
	if len(stmt) == 0 {
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(stmt))
	out := map[string][]string{}
	var (
		name       string // the Attribute being read
		inValue    bool   // inside one of its AttributeValues
		inNameID   bool   // inside a NameID in that value
		hasNameID  bool
		text, nid  strings.Builder
		valueDepth int
		depth      int
	)
	for {
		tok, err := d.Token()
		if err != nil {
			if depth == 0 && len(out) > 0 {
				return out
			}
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case t.Name.Local == "Attribute" && depth == 2:
				name = ""
				for _, a := range t.Attr {
					if a.Name.Space == "" && a.Name.Local == "Name" {
						name = a.Value
					}
				}
			case t.Name.Local == "AttributeValue" && depth == 3:
				inValue, hasNameID, valueDepth = true, false, depth
				text.Reset()
				nid.Reset()
			case t.Name.Local == "NameID" && inValue && depth == valueDepth+1 && !hasNameID:
				inNameID, hasNameID = true, true
			}
		case xml.CharData:
			switch {
			case inNameID:
				nid.Write(t)
			case inValue && depth == valueDepth:
				text.Write(t)
			}
		case xml.EndElement:
			switch {
			case inNameID && depth == valueDepth+1:
				inNameID = false
			case inValue && depth == valueDepth:
				v := strings.TrimSpace(text.String())
				if hasNameID {
					v = strings.TrimSpace(nid.String())
				}
				out[name] = append(out[name], v)
				inValue = false
			}
			depth--
			if depth == 0 {
				return out
			}
		}
	}
}
