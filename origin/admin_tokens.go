package origin

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

func adminTokenToWire(t catalog.AdminToken, secret string) api.AdminToken {
	return api.AdminToken{ID: t.ID, Token: secret, Name: t.Name, Role: string(t.Role), StoreID: t.StoreID,
		CreatedAt: t.CreatedAt, RevokedAt: timePtr(t.RevokedAt)}
}

// createAdminToken issues another admin token of the caller's tenant; its secret is shown once.
func (s *Server) createAdminToken(w http.ResponseWriter, r *http.Request) {
	var in api.AdminTokenInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	secret, h := newSecret(adminSecretPrefix)
	t := catalog.AdminToken{ID: uuid.NewString(), TenantID: tenantOf(r), Name: in.Name, Role: catalog.Role(in.Role),
		StoreID: normID(in.StoreID), Hash: h, CreatedAt: s.now().UTC()}
	if err := s.cat.Update(r.Context(), t.TenantID, func(tx catalog.Tx) error { return tx.CreateAdminToken(t) }); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, adminTokenToWire(t, secret))
}

func (s *Server) listAdminTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.cat.ListAdminTokens(r.Context(), tenantOf(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.AdminToken]{Items: []api.AdminToken{}}
	for _, t := range toks {
		out.Items = append(out.Items, adminTokenToWire(t, ""))
	}
	writeJSON(w, r, http.StatusOK, out)
}

// revokeAdminToken revokes a token at once on this server; other replicas stop accepting it within AuthCacheTTL.
func (s *Server) revokeAdminToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cat.Update(r.Context(), tenantOf(r), func(tx catalog.Tx) error {
		return tx.RevokeAdminToken(id, s.now().UTC())
	}); err != nil {
		writeError(w, r, err)
		return
	}
	toks, err := s.cat.ListAdminTokens(r.Context(), tenantOf(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, t := range toks {
		if t.ID == id {
			s.auth.drop(t.Hash)
			writeJSON(w, r, http.StatusOK, adminTokenToWire(t, ""))
			return
		}
	}
	writeProblem(w, api.NewProblem(http.StatusNotFound, api.ProblemNotFound, "admin token %s not found", id))
}
