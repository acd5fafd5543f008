package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/origin/api"
)

// adminCLI holds the `lomuz admin` global flags.
type adminCLI struct {
	url, token string
	json       bool
}

func (a *adminCLI) client() (*api.Client, error) {
	if a.token == "" {
		return nil, fmt.Errorf("an admin token is required (--token or LOMUZ_TOKEN)")
	}
	return api.NewClient(api.ClientConfig{BaseURLs: strings.Split(a.url, ","), Credential: a.token,
		HTTPClient: &http.Client{Timeout: 30 * time.Minute}})
}

// print writes v as JSON with --json, else the human form.
func (a *adminCLI) print(w io.Writer, v any, human func(tw *tabwriter.Writer)) error {
	if a.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	human(tw)
	return tw.Flush()
}

func init() {
	a := &adminCLI{}
	cmd := &cobra.Command{Use: "admin", Short: "Administer a tenant through origin's admin API"}
	pf := cmd.PersistentFlags()
	pf.StringVar(&a.url, "url", envOr("LOMUZ_URL", "http://127.0.0.1:8080"), "origin base URL(s), comma-separated (env LOMUZ_URL)")
	pf.StringVar(&a.token, "token", os.Getenv("LOMUZ_TOKEN"), "admin token (env LOMUZ_TOKEN)")
	pf.BoolVar(&a.json, "json", false, "print JSON instead of tables")
	cmd.AddCommand(adminStoreCmd(a), adminZoneCmd(a), adminUploadCmd(a), adminPlaylistCmd(a), adminScheduleCmd(a),
		adminTokenCmd(a), adminDevicesCmd(a))
	root.AddCommand(cmd)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// run wraps an admin action: it builds the client and hands it over.
func (a *adminCLI) run(fn func(cmd *cobra.Command, c *api.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		return fn(cmd, c, args)
	}
}

func adminStoreCmd(a *adminCLI) *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "Create and list stores"}
	var in api.StoreInput
	create := &cobra.Command{Use: "create", Short: "Create a store", Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, _ []string) error {
			s, err := c.CreateStore(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), s, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "store %s\t%s\t%s\n", s.ID, s.Name, s.TimeZone)
			})
		})}
	create.Flags().StringVar(&in.Name, "name", "", "store name")
	create.Flags().StringVar(&in.TimeZone, "tz", "", "IANA time zone, e.g. America/Sao_Paulo")
	list := &cobra.Command{Use: "list", Short: "List stores and their zones", Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, _ []string) error {
			ss, err := c.ListStores(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), ss, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tNAME\tTIME ZONE\tZONES")
				for _, s := range ss {
					var zs []string
					for _, z := range s.Zones {
						zs = append(zs, z.Name+"="+z.ID)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Name, s.TimeZone, strings.Join(zs, " "))
				}
			})
		})}
	cmd.AddCommand(create, list)
	return cmd
}

func adminZoneCmd(a *adminCLI) *cobra.Command {
	var store string
	cmd := &cobra.Command{Use: "zone NAME...", Short: "Create zones in a store", Args: cobra.MinimumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, args []string) error {
			var out []api.ZoneInfo
			for _, name := range args {
				z, err := c.CreateZone(cmd.Context(), store, api.ZoneInput{Name: name})
				if err != nil {
					return err
				}
				out = append(out, z)
			}
			return a.print(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) {
				for _, z := range out {
					fmt.Fprintf(tw, "zone %s\t%s\n", z.ID, z.Name)
				}
			})
		})}
	cmd.Flags().StringVar(&store, "store", "", "store id")
	return cmd
}

func adminUploadCmd(a *adminCLI) *cobra.Command {
	var in api.AssetInput
	var from, until string
	cmd := &cobra.Command{Use: "upload DIR|FILE...", Short: "Upload tracks (a folder's audio files, or files)",
		Args: cobra.MinimumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, args []string) error {
			for _, p := range []struct {
				s   string
				dst **time.Time
			}{{from, &in.ValidFrom}, {until, &in.ValidUntil}} {
				if p.s != "" {
					t, err := time.Parse(time.RFC3339, p.s)
					if err != nil {
						return fmt.Errorf("validity times are RFC 3339: %w", err)
					}
					*p.dst = &t
				}
			}
			var out []api.Asset
			for _, p := range args {
				st, err := os.Stat(p)
				if err != nil {
					return err
				}
				if st.IsDir() {
					as, err := c.UploadFolder(cmd.Context(), p, in)
					out = append(out, as...)
					if err != nil {
						return err
					}
					continue
				}
				asset, err := c.UploadFile(cmd.Context(), p, in)
				if err != nil {
					return err
				}
				out = append(out, asset)
			}
			return a.print(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tSTATUS\tCODEC\tDURATION\tTITLE")
				for _, x := range out {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Status, x.Codec,
						time.Duration(x.DurationMS)*time.Millisecond, x.Title)
				}
			})
		})}
	fl := cmd.Flags()
	fl.StringVar(&in.Kind, "kind", api.KindMusic, "music, spot or jingle")
	fl.StringVar(&in.Artist, "artist", "", "artist")
	fl.BoolVar(&in.EmergencyEligible, "emergency", false, "eligible for emergency playback")
	fl.StringVar(&from, "valid-from", "", "RFC 3339 time before which the assets never play")
	fl.StringVar(&until, "valid-until", "", "RFC 3339 time after which the assets never play")
	return cmd
}

func adminPlaylistCmd(a *adminCLI) *cobra.Command {
	var in api.PlaylistInput
	cmd := &cobra.Command{Use: "playlist ASSET_ID...", Short: "Make a playlist of assets, in order",
		Args: cobra.MinimumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, args []string) error {
			in.AssetIDs = args
			p, err := c.CreatePlaylist(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), p, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "playlist %s\t%s\t%d assets\n", p.ID, p.Name, len(p.AssetIDs))
			})
		})}
	cmd.Flags().StringVar(&in.Name, "name", "", "playlist name")
	return cmd
}

func adminScheduleCmd(a *adminCLI) *cobra.Command {
	var in api.ScheduleInput
	cmd := &cobra.Command{Use: "schedule", Short: "Schedule a playlist for the tenant, a store or a zone", Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, _ []string) error {
			switch {
			case in.ZoneID != "":
				in.Scope = api.ScopeZone
			case in.StoreID != "":
				in.Scope = api.ScopeStore
			default:
				in.Scope = api.ScopeTenant
			}
			s, err := c.CreateSchedule(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), s, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "schedule %s\t%s %s-%s\tpriority %d\n", s.ID, s.Scope, s.Start, s.End, s.Priority)
			})
		})}
	fl := cmd.Flags()
	fl.StringVar(&in.PlaylistID, "playlist", "", "playlist id")
	fl.StringVar(&in.StoreID, "store", "", "store id (omit for tenant-wide)")
	fl.StringVar(&in.ZoneID, "zone", "", "zone id (a zone schedule)")
	fl.StringVar(&in.Start, "start", "00:00", "day-part start, store-local HH:MM")
	fl.StringVar(&in.End, "end", "00:00", "day-part end, HH:MM (equal to start: all day)")
	fl.IntVar(&in.Priority, "priority", 0, "higher wins")
	fl.StringVar(&in.DateFrom, "from", "", "first date, YYYY-MM-DD")
	fl.StringVar(&in.DateTo, "to", "", "last date, YYYY-MM-DD")
	fl.IntSliceVar(&in.Weekdays, "weekdays", nil, "weekdays, 0 = Sunday (default every day)")
	return cmd
}

func adminTokenCmd(a *adminCLI) *cobra.Command {
	var in api.EnrollmentTokenInput
	cmd := &cobra.Command{Use: "enroll-token", Short: "Issue a one-time enrollment token for a zone", Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, _ []string) error {
			t, err := c.CreateEnrollmentToken(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), t, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "token %s\texpires %s\n", t.Token, t.ExpiresAt.Format(time.RFC3339))
			})
		})}
	cmd.Flags().StringVar(&in.StoreID, "store", "", "store id")
	cmd.Flags().StringVar(&in.ZoneID, "zone", "", "zone id")
	cmd.Flags().IntVar(&in.TTLS, "ttl", 0, "validity in seconds (default: origin's)")
	return cmd
}

func adminDevicesCmd(a *adminCLI) *cobra.Command {
	var store string
	cmd := &cobra.Command{Use: "devices", Short: "List devices with telemetry", Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, _ []string) error {
			ds, err := c.ListDevices(cmd.Context(), store)
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), ds, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tSTORE\tZONE\tLAST SYNC\tVERSION\tCACHED\tREVOKED")
				for _, d := range ds {
					last, rev := "never", ""
					if d.LastSyncAt != nil {
						last = d.LastSyncAt.Format(time.RFC3339)
					}
					if d.RevokedAt != nil {
						rev = d.RevokedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.StoreID, d.ZoneID, last, d.AppVersion,
						d.CachedAssetsCount, rev)
				}
			})
		})}
	cmd.Flags().StringVar(&store, "store", "", "only this store")
	revoke := &cobra.Command{Use: "revoke DEVICE_ID", Short: "Revoke a device (rotates its store's mesh key)",
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, c *api.Client, args []string) error {
			d, err := c.RevokeDevice(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(cmd.OutOrStdout(), d, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "revoked %s\n", d.ID) })
		})}
	cmd.AddCommand(revoke)
	return cmd
}
