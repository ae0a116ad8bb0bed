package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/admin"
)

// usersPageSize is how many users a page of the list shows.
const usersPageSize = 50

// usersData is the data of users.html.
type usersData struct {
	frame
	Q, Status, Source string
	List              admin.UserList
	Page              int
	Prev, Next        string
	Errors            map[string]string
}

// users is GET /admin/{org}/users?q=&status=&source=&page=.
func (cn *Console) users(c echo.Context, p *req) error {
	d := usersData{frame: cn.frame(p, "Users", "users"), Q: c.QueryParam("q"), Status: c.QueryParam("status"), Source: c.QueryParam("source"), Page: 1}
	if n, err := strconv.Atoi(c.QueryParam("page")); err == nil && n > 1 {
		d.Page = n
	}
	list, err := cn.svc.ListUsers(c.Request().Context(), p.actor, admin.UserQuery{
		Status: d.Status, Source: d.Source, Text: d.Q, StartIndex: (d.Page-1)*usersPageSize + 1, Count: usersPageSize,
	})
	if fields, ok := validation(err); ok {
		d.Errors = fields
		d.Error = "Check the filters: " + joinFields(fields)
		return cn.render(c, http.StatusBadRequest, "users", d)
	}
	if err != nil {
		return err
	}
	d.List = list
	q := url.Values{}
	for k, v := range map[string]string{"q": d.Q, "status": d.Status, "source": d.Source} {
		if v != "" {
			q.Set(k, v)
		}
	}
	page := func(n int) string {
		q.Set("page", strconv.Itoa(n))
		return orgPath(p.actor.Org().Slug, "users") + "?" + q.Encode()
	}
	if d.Page > 1 {
		d.Prev = page(d.Page - 1)
	}
	if list.StartIndex-1+len(list.Users) < list.TotalResults {
		d.Next = page(d.Page + 1)
	}
	return cn.render(c, http.StatusOK, "users", d)
}

// userData is the data of user.html.
type userData struct {
	frame
	User   admin.User
	Events []admin.Event
	More   string
}

// user is GET /admin/{org}/users/{id}.
func (cn *Console) user(c echo.Context, p *req) error {
	u, err := cn.svc.User(c.Request().Context(), p.actor, c.Param("user"))
	if err != nil {
		return err
	}
	d := userData{frame: cn.frame(p, displayName(u.DisplayName, u.UserName), "users"), User: u, Events: u.History}
	if u.HistoryNext != "" {
		d.More = orgPath(p.actor.Org().Slug, "audit") + "?" + url.Values{"user": {u.ID}, "cursor": {u.HistoryNext}}.Encode()
	}
	return cn.render(c, http.StatusOK, "user", d)
}

// auditPageSize is how many events a page of the audit log shows.
const auditPageSize = 100

// auditData is the data of audit.html.
type auditData struct {
	frame
	Actor, Action, User, Since, Until string
	Events                            []admin.Event
	Older                             string
	Errors                            map[string]string
}

// dateLayouts are the forms the audit log's since and until take: a date
// (midnight UTC) or a date and time, as <input type="datetime-local"> sends.
func dateLayouts() []string {
	return []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339}
}

func parseWhen(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	for _, l := range dateLayouts() {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// audit is GET /admin/{org}/audit?actor=&action=&user=&since=&until=&cursor=.
func (cn *Console) audit(c echo.Context, p *req) error {
	d := auditData{frame: cn.frame(p, "Audit log", "audit"), Actor: strings.TrimSpace(c.QueryParam("actor")),
		Action: strings.TrimSpace(c.QueryParam("action")), User: strings.TrimSpace(c.QueryParam("user")),
		Since: c.QueryParam("since"), Until: c.QueryParam("until"), Errors: map[string]string{}}
	since, ok := parseWhen(d.Since)
	if !ok {
		d.Errors["since"] = "a date like 2026-03-01, or a date and time like 2026-03-01T14:30 (UTC)"
	}
	until, ok := parseWhen(d.Until)
	if !ok {
		d.Errors["until"] = "a date like 2026-03-01, or a date and time like 2026-03-01T14:30 (UTC)"
	}
	if len(d.Errors) == 0 {
		log, err := cn.svc.AuditLog(c.Request().Context(), p.actor, admin.AuditQuery{
			Actor: d.Actor, Action: d.Action, User: d.User, Since: since, Until: until, Cursor: c.QueryParam("cursor"), Limit: auditPageSize,
		})
		fields, invalid := validation(err)
		if err != nil && !invalid {
			return err
		}
		for k, v := range fields {
			d.Errors[k] = v
		}
		d.Events = log.Events
		if log.NextCursor != "" {
			q := url.Values{"cursor": {log.NextCursor}}
			for k, v := range map[string]string{"actor": d.Actor, "action": d.Action, "user": d.User, "since": d.Since, "until": d.Until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			d.Older = orgPath(p.actor.Org().Slug, "audit") + "?" + q.Encode()
		}
	}
	if len(d.Errors) > 0 {
		d.Error = "Check the filters: " + joinFields(d.Errors)
		return cn.render(c, http.StatusBadRequest, "audit", d)
	}
	return cn.render(c, http.StatusOK, "audit", d)
}
