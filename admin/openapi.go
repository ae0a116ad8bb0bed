package admin

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3 description of the admin API, served at
// /api/v1/openapi.json. Tests check that it lists exactly the routes the API
// registers and that the API's answers match its schemas.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

func (h *API) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json", openAPIDocument)
}
