package panel

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Languages the panel speaks; the first is the default.
var langs = []string{"en", "pt-BR"}

// lang picks the language: the switch's cookie, else the first supported language of Accept-Language (by order of
// preference, q-values honoured), else English.
func (p *Panel) lang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && known(c.Value) {
		return c.Value
	}
	return fromAcceptLanguage(r.Header.Get("Accept-Language"))
}

func known(l string) bool { return l == "en" || l == "pt-BR" }

func fromAcceptLanguage(h string) string {
	best, bestQ := "en", -1.0
	if len(h) > 1024 {
		h = h[:1024]
	}
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				continue
			}
		}
		prim, _, _ := strings.Cut(strings.ToLower(tag), "-")
		var l string
		switch prim {
		case "pt":
			l = "pt-BR"
		case "en":
			l = "en"
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// setLang is the language switch: it remembers the choice in a cookie and goes back to where the user was.
func (p *Panel) setLang(w http.ResponseWriter, r *http.Request) {
	l := r.URL.Query().Get("l")
	if !known(l) {
		http.Error(w, "unknown language", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: p.cfg.Prefix + "/", MaxAge: 365 * 24 * 3600,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
	next := r.URL.Query().Get("next")
	// Only a path under the panel: an open redirect would let a link send a user anywhere.
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" ||
		!strings.HasPrefix(u.Path, p.cfg.Prefix+"/") || strings.HasPrefix(next, "//") {
		next = p.cfg.Prefix + "/fleet"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// msg looks a key up in the language's catalog. A key missing from the catalog is a bug that the catalog test
// catches; at run time it shows the key rather than failing the page.
func msg(lang, key string) string {
	if s, ok := catalogs[lang][key]; ok {
		return s
	}
	if s, ok := catalogs["en"][key]; ok {
		return s
	}
	return key
}

// catalogs hold every string the panel shows. Origin's own error details (after "err.rejected") stay in English:
// they name fields and values precisely and are what the API documents.
var catalogs = map[string]map[string]string{
	"en": {
		"app":                          "Lomuz panel",
		"nav.fleet":                    "Fleet",
		"nav.alerts":                   "Alerts",
		"nav.library":                  "Library",
		"nav.playlists":                "Playlists",
		"nav.schedules":                "Schedules",
		"nav.preview":                  "Preview",
		"nav.plays":                    "Proof of play",
		"nav.main":                     "Main navigation",
		"skip":                         "Skip to content",
		"logout":                       "Sign out",
		"lang.switch":                  "Language",
		"role.director":                "director",
		"role.manager":                 "store manager",
		"login.title":                  "Sign in",
		"login.token":                  "Access token",
		"login.help":                   "Paste the admin or store-manager token you were given (it starts with lmza_).",
		"login.submit":                 "Sign in",
		"search":                       "Search",
		"search.go":                    "Search",
		"prev":                         "Previous page",
		"next":                         "Next page",
		"first":                        "First page",
		"none":                         "Nothing here yet.",
		"save":                         "Save",
		"readonly":                     "Your role can read this screen but not change it.",
		"fleet.title":                  "Stores, zones and devices",
		"fleet.stores":                 "Stores",
		"fleet.zones":                  "Zones",
		"fleet.devices":                "Devices",
		"fleet.store":                  "Store",
		"fleet.zone":                   "Zone",
		"fleet.device":                 "Device",
		"fleet.status":                 "Status",
		"fleet.online":                 "online",
		"fleet.offline":                "offline",
		"fleet.never":                  "never synced",
		"fleet.revoked":                "revoked",
		"fleet.lastsync":               "Last sync",
		"fleet.cache":                  "Cache",
		"fleet.cachefmt":               "%d assets, %s",
		"fleet.rev":                    "Catalog revision",
		"fleet.version":                "App version",
		"fleet.playing":                "Now playing (last reported)",
		"fleet.level":                  "Fallback level",
		"fleet.tz":                     "Time zone",
		"fleet.counts":                 "%d devices, %d online",
		"fleet.missing":                "Not reported by devices yet: clock offset, covered-until and free disk.",
		"alerts.title":                 "Alerts",
		"alerts.offline":               "Device offline",
		"alerts.never":                 "Device has never synced",
		"alerts.deadair":               "Dead air or built-in jingle played",
		"alerts.emergency":             "Played emergency content (schedule not covered)",
		"alerts.none":                  "No alerts.",
		"alerts.since":                 "since",
		"alerts.window":                "Plays checked: the last 24 hours.",
		"alerts.missing":               "Clock-wrong and low-disk alerts need devices to report their clock offset and free disk, which they do not do yet.",
		"lib.title":                    "Library",
		"lib.upload":                   "Upload a track, jingle or spot",
		"lib.file":                     "Audio file (mp3, flac, wav, ogg)",
		"lib.kept":                     "File already uploaded; choose another only to replace it.",
		"lib.kind":                     "Kind",
		"kind.music":                   "music",
		"kind.spot":                    "spot",
		"kind.jingle":                  "jingle",
		"lib.titlef":                   "Title",
		"lib.artist":                   "Artist",
		"lib.isrc":                     "ISRC",
		"lib.from":                     "Valid from (UTC)",
		"lib.until":                    "Valid until (UTC)",
		"lib.emergency":                "Emergency eligible",
		"lib.state":                    "Transcode",
		"lib.duration":                 "Duration",
		"lib.loudness":                 "Loudness",
		"lib.codec":                    "Rendition",
		"lib.window":                   "Validity",
		"lib.progress":                 "Upload progress",
		"lib.scanned":                  "Searched the first %d assets.",
		"state.pending":                "transcoding",
		"state.ready":                  "ready",
		"state.failed":                 "failed",
		"pl.title":                     "Playlists",
		"pl.new":                       "New playlist",
		"pl.name":                      "Name",
		"pl.assets":                    "Tracks",
		"pl.pick":                      "Tracks to include (search the library above the list)",
		"pl.count":                     "%d tracks",
		"sc.title":                     "Schedules",
		"sc.new":                       "New schedule",
		"sc.scope":                     "Applies to",
		"sc.tenant":                    "Every store",
		"sc.playlist":                  "Playlist",
		"sc.priority":                  "Priority (higher wins)",
		"sc.days":                      "Days",
		"sc.start":                     "From (store time, HH:MM)",
		"sc.end":                       "Until (HH:MM; same as From = all day)",
		"sc.datefrom":                  "First date (optional)",
		"sc.dateto":                    "Last date (optional)",
		"sc.spots":                     "Spot rule (optional)",
		"sc.spotpl":                    "Spot playlist",
		"sc.everyn":                    "Every N tracks",
		"sc.everym":                    "Every N minutes",
		"sc.at":                        "At fixed times (HH:MM, comma-separated)",
		"sc.grid":                      "Week",
		"sc.nospot":                    "none",
		"day.0":                        "Sun",
		"day.1":                        "Mon",
		"day.2":                        "Tue",
		"day.3":                        "Wed",
		"day.4":                        "Thu",
		"day.5":                        "Fri",
		"day.6":                        "Sat",
		"pv.title":                     "What will this zone play?",
		"pv.zone":                      "Zone",
		"pv.from":                      "From (store time)",
		"pv.hours":                     "Hours",
		"pv.go":                        "Preview",
		"pv.start":                     "Starts",
		"pv.asset":                     "Asset",
		"pv.level":                     "Level",
		"pv.reason":                    "Why",
		"pv.covered":                   "Scheduled content covers this zone until",
		"pv.note":                      "Computed by the players' own selection code, assuming the device holds every ready asset.",
		"pv.truncated":                 "The preview was cut short.",
		"plays.title":                  "Proof of play",
		"plays.from":                   "From (UTC)",
		"plays.to":                     "To (UTC)",
		"plays.filter":                 "Filter",
		"plays.csv":                    "Download CSV (with ISRC)",
		"plays.started":                "Started",
		"plays.duration":               "Length",
		"plays.any":                    "any",
		"err.session":                  "Your session has ended. Sign in again.",
		"err.csrf":                     "This form is out of date or came from another site. Reload the page and try again.",
		"err.token":                    "That token was not accepted: it is unknown, revoked or mistyped.",
		"err.form":                     "The form could not be read. Try again.",
		"err.forbidden":                "Your role does not allow this change.",
		"err.busy":                     "Origin is busy. Try again in a minute.",
		"err.rejected":                 "Not saved:",
		"err.internal":                 "Something went wrong on our side; nothing was changed. Try again.",
		"err.nofile":                   "Choose an audio file to upload.",
		"err.toolarge":                 "The file is larger than the upload limit.",
		"err.time":                     "Dates must look like 2026-12-31T23:59.",
		"err.number":                   "Numbers must be whole numbers.",
		"err.zone":                     "Choose a zone.",
		"err.hours":                    "Hours must be between 1 and 48.",
		"ok.asset":                     "Uploaded. The track is being transcoded.",
		"ok.playlist":                  "Playlist saved.",
		"ok.schedule":                  "Schedule saved.",
		"level.scheduled":              "scheduled",
		"level.spot":                   "spot",
		"level.emergency":              "emergency",
		"level.builtin":                "built-in jingle",
		"level.silence":                "silence",
		"reason.least recently played": "least recently played",
		"reason.same artist again: no other eligible":       "same artist again: no other eligible",
		"reason.spot every n tracks":                        "spot every N tracks",
		"reason.spot every n minutes":                       "spot every N minutes",
		"reason.spot at fixed time":                         "spot at a fixed time",
		"reason.no schedule active":                         "no schedule active",
		"reason.nothing eligible in the scheduled playlist": "nothing eligible in the scheduled playlist",
		"st.new":   "New store",
		"st.name":  "Name",
		"st.tz":    "Time zone (IANA, e.g. America/Sao_Paulo)",
		"zn.new":   "New zone",
		"zn.name":  "Zone name",
		"en.new":   "Enroll a player",
		"en.zone":  "Store / zone",
		"en.token": "One-time enrollment token (shown once; give it to the player's installer):",
		"ok.store": "Store created.",
		"ok.saved": "Saved. Players learn the change at their next sync.",
		"lib.back": "Back to the library",
		"lib.meta": "Details",
		"lib.sha":  "Content hash (sha256)",
		"ok.zone":  "Zone created.",
	},
	"pt-BR": {
		"app":                          "Painel Lomuz",
		"nav.fleet":                    "Frota",
		"nav.alerts":                   "Alertas",
		"nav.library":                  "Biblioteca",
		"nav.playlists":                "Playlists",
		"nav.schedules":                "Programação",
		"nav.preview":                  "Prévia",
		"nav.plays":                    "Comprovação de execução",
		"nav.main":                     "Navegação principal",
		"skip":                         "Pular para o conteúdo",
		"logout":                       "Sair",
		"lang.switch":                  "Idioma",
		"role.director":                "diretor",
		"role.manager":                 "gerente de loja",
		"login.title":                  "Entrar",
		"login.token":                  "Token de acesso",
		"login.help":                   "Cole o token de administrador ou de gerente de loja que você recebeu (começa com lmza_).",
		"login.submit":                 "Entrar",
		"search":                       "Buscar",
		"search.go":                    "Buscar",
		"prev":                         "Página anterior",
		"next":                         "Próxima página",
		"first":                        "Primeira página",
		"none":                         "Nada aqui ainda.",
		"save":                         "Salvar",
		"readonly":                     "Seu papel pode ver esta tela, mas não alterá-la.",
		"fleet.title":                  "Lojas, zonas e aparelhos",
		"fleet.stores":                 "Lojas",
		"fleet.zones":                  "Zonas",
		"fleet.devices":                "Aparelhos",
		"fleet.store":                  "Loja",
		"fleet.zone":                   "Zona",
		"fleet.device":                 "Aparelho",
		"fleet.status":                 "Estado",
		"fleet.online":                 "online",
		"fleet.offline":                "offline",
		"fleet.never":                  "nunca sincronizou",
		"fleet.revoked":                "revogado",
		"fleet.lastsync":               "Última sincronização",
		"fleet.cache":                  "Cache",
		"fleet.cachefmt":               "%d arquivos, %s",
		"fleet.rev":                    "Revisão do catálogo",
		"fleet.version":                "Versão do app",
		"fleet.playing":                "Tocando agora (último relato)",
		"fleet.level":                  "Nível de contingência",
		"fleet.tz":                     "Fuso horário",
		"fleet.counts":                 "%d aparelhos, %d online",
		"fleet.missing":                "Ainda não relatado pelos aparelhos: desvio do relógio, coberto até e disco livre.",
		"alerts.title":                 "Alertas",
		"alerts.offline":               "Aparelho offline",
		"alerts.never":                 "Aparelho nunca sincronizou",
		"alerts.deadair":               "Silêncio ou vinheta embutida tocados",
		"alerts.emergency":             "Tocou conteúdo de emergência (programação sem cobertura)",
		"alerts.none":                  "Nenhum alerta.",
		"alerts.since":                 "desde",
		"alerts.window":                "Execuções verificadas: últimas 24 horas.",
		"alerts.missing":               "Alertas de relógio errado e de disco cheio exigem que os aparelhos relatem o desvio do relógio e o disco livre, o que ainda não fazem.",
		"lib.title":                    "Biblioteca",
		"lib.upload":                   "Enviar música, vinheta ou spot",
		"lib.file":                     "Arquivo de áudio (mp3, flac, wav, ogg)",
		"lib.kept":                     "Arquivo já enviado; escolha outro só para substituí-lo.",
		"lib.kind":                     "Tipo",
		"kind.music":                   "música",
		"kind.spot":                    "spot",
		"kind.jingle":                  "vinheta",
		"lib.titlef":                   "Título",
		"lib.artist":                   "Artista",
		"lib.isrc":                     "ISRC",
		"lib.from":                     "Válido a partir de (UTC)",
		"lib.until":                    "Válido até (UTC)",
		"lib.emergency":                "Pode tocar em emergência",
		"lib.state":                    "Transcodificação",
		"lib.duration":                 "Duração",
		"lib.loudness":                 "Loudness",
		"lib.codec":                    "Versão de entrega",
		"lib.window":                   "Validade",
		"lib.progress":                 "Progresso do envio",
		"lib.scanned":                  "Busca nos primeiros %d arquivos.",
		"state.pending":                "transcodificando",
		"state.ready":                  "pronto",
		"state.failed":                 "falhou",
		"pl.title":                     "Playlists",
		"pl.new":                       "Nova playlist",
		"pl.name":                      "Nome",
		"pl.assets":                    "Faixas",
		"pl.pick":                      "Faixas a incluir (busque na biblioteca acima da lista)",
		"pl.count":                     "%d faixas",
		"sc.title":                     "Programação",
		"sc.new":                       "Nova programação",
		"sc.scope":                     "Vale para",
		"sc.tenant":                    "Todas as lojas",
		"sc.playlist":                  "Playlist",
		"sc.priority":                  "Prioridade (maior vence)",
		"sc.days":                      "Dias",
		"sc.start":                     "De (hora da loja, HH:MM)",
		"sc.end":                       "Até (HH:MM; igual a De = o dia todo)",
		"sc.datefrom":                  "Primeira data (opcional)",
		"sc.dateto":                    "Última data (opcional)",
		"sc.spots":                     "Regra de spots (opcional)",
		"sc.spotpl":                    "Playlist de spots",
		"sc.everyn":                    "A cada N faixas",
		"sc.everym":                    "A cada N minutos",
		"sc.at":                        "Em horários fixos (HH:MM, separados por vírgula)",
		"sc.grid":                      "Semana",
		"sc.nospot":                    "nenhuma",
		"day.0":                        "Dom",
		"day.1":                        "Seg",
		"day.2":                        "Ter",
		"day.3":                        "Qua",
		"day.4":                        "Qui",
		"day.5":                        "Sex",
		"day.6":                        "Sáb",
		"pv.title":                     "O que esta zona vai tocar?",
		"pv.zone":                      "Zona",
		"pv.from":                      "A partir de (hora da loja)",
		"pv.hours":                     "Horas",
		"pv.go":                        "Ver prévia",
		"pv.start":                     "Início",
		"pv.asset":                     "Arquivo",
		"pv.level":                     "Nível",
		"pv.reason":                    "Motivo",
		"pv.covered":                   "A programação cobre esta zona até",
		"pv.note":                      "Calculado pelo próprio código de seleção dos players, supondo que o aparelho tenha todos os arquivos prontos.",
		"pv.truncated":                 "A prévia foi interrompida antes do fim.",
		"plays.title":                  "Comprovação de execução",
		"plays.from":                   "De (UTC)",
		"plays.to":                     "Até (UTC)",
		"plays.filter":                 "Filtrar",
		"plays.csv":                    "Baixar CSV (com ISRC)",
		"plays.started":                "Início",
		"plays.duration":               "Duração",
		"plays.any":                    "qualquer",
		"err.session":                  "Sua sessão terminou. Entre novamente.",
		"err.csrf":                     "Este formulário está desatualizado ou veio de outro site. Recarregue a página e tente de novo.",
		"err.token":                    "Esse token não foi aceito: é desconhecido, foi revogado ou está incorreto.",
		"err.form":                     "Não foi possível ler o formulário. Tente de novo.",
		"err.forbidden":                "Seu papel não permite esta alteração.",
		"err.busy":                     "O servidor está ocupado. Tente de novo em um minuto.",
		"err.rejected":                 "Não foi salvo:",
		"err.internal":                 "Algo deu errado do nosso lado; nada foi alterado. Tente de novo.",
		"err.nofile":                   "Escolha um arquivo de áudio para enviar.",
		"err.toolarge":                 "O arquivo é maior que o limite de envio.",
		"err.time":                     "As datas devem ter o formato 2026-12-31T23:59.",
		"err.number":                   "Os números devem ser inteiros.",
		"err.zone":                     "Escolha uma zona.",
		"err.hours":                    "As horas devem estar entre 1 e 48.",
		"ok.asset":                     "Enviado. A faixa está sendo transcodificada.",
		"ok.playlist":                  "Playlist salva.",
		"ok.schedule":                  "Programação salva.",
		"level.scheduled":              "programado",
		"level.spot":                   "spot",
		"level.emergency":              "emergência",
		"level.builtin":                "vinheta embutida",
		"level.silence":                "silêncio",
		"reason.least recently played": "tocada há mais tempo",
		"reason.same artist again: no other eligible":       "mesmo artista de novo: nenhuma outra elegível",
		"reason.spot every n tracks":                        "spot a cada N faixas",
		"reason.spot every n minutes":                       "spot a cada N minutos",
		"reason.spot at fixed time":                         "spot em horário fixo",
		"reason.no schedule active":                         "nenhuma programação ativa",
		"reason.nothing eligible in the scheduled playlist": "nada elegível na playlist programada",
		"st.new":   "Nova loja",
		"st.name":  "Nome",
		"st.tz":    "Fuso horário (IANA, ex.: America/Sao_Paulo)",
		"zn.new":   "Nova zona",
		"zn.name":  "Nome da zona",
		"en.new":   "Cadastrar um player",
		"en.zone":  "Loja / zona",
		"en.token": "Token de cadastro de uso único (mostrado uma vez; entregue ao instalador do player):",
		"ok.store": "Loja criada.",
		"ok.saved": "Salvo. Os players recebem a mudança na próxima sincronização.",
		"lib.back": "Voltar à biblioteca",
		"lib.meta": "Detalhes",
		"lib.sha":  "Hash do conteúdo (sha256)",
		"ok.zone":  "Zona criada.",
	},
}
